import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

/**
 * A TCP server on 127.0.0.1 that accepts connections, reads what it is sent and never answers: the hung server
 * (a stuck proxy, a black-holed route) that only a client's own timeouts get it out of.
 */
export class SilentServer {
  /** Connections accepted so far: proof that the driver did try to talk to it. */
  connections = 0;
  readonly #sockets = new Set<Socket>();
  readonly #server: Server = createServer((socket) => {
    this.connections += 1;
    this.#sockets.add(socket);
    socket.on('data', () => undefined);
    socket.on('error', () => undefined);
    socket.on('close', () => this.#sockets.delete(socket));
  });
  #url = '';

  /** `http://127.0.0.1:<port>` once started. */
  get url(): string {
    return this.#url;
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    this.#url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise((resolve) => this.#server.close(resolve));
  }
}
