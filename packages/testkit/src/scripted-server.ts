import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type ScriptedHandler = (request: IncomingMessage, response: ServerResponse) => void;

/**
 * A stand-in HTTP server on 127.0.0.1 that answers requests from a script, for the answers a healthy server never
 * gives on demand (503 then success, 507, no answer at all, a body that stalls). Request `n` gets `script[n]`;
 * the last handler repeats. `passThrough` answers requests that are not part of the script (e.g. auth) itself.
 */
export class ScriptedServer {
  script: ScriptedHandler[] = [];
  /** Scripted requests answered since the last `reset()`. */
  requests = 0;
  #base = '';
  readonly #server = createServer((request, response) => {
    request.resume();
    if (this.passThrough?.(request, response) === true) return;
    const handler = this.script[Math.min(this.requests, this.script.length - 1)];
    this.requests += 1;
    request.on('end', () => (handler ?? ScriptedServer.status(500))(request, response));
  });

  constructor(readonly passThrough?: (request: IncomingMessage, response: ServerResponse) => boolean) {}

  get base(): string {
    return this.#base;
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    this.#base = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    return this;
  }

  reset(script: ScriptedHandler[] = []): void {
    this.script = script;
    this.requests = 0;
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise((resolve) => this.#server.close(resolve));
  }

  /** A handler answering `code` with `headers` and an optional body. */
  static status(code: number, headers: Record<string, string> = {}, body?: string): ScriptedHandler {
    return (_request, response) => {
      response.writeHead(code, headers).end(body);
    };
  }
}

/** Reads `body` to its end and returns what reading failed with (undefined when it completed). */
export async function drainError(body: AsyncIterable<Uint8Array>): Promise<Error | undefined> {
  try {
    for await (const _part of body) {
      // drain
    }
    return undefined;
  } catch (error) {
    return error as Error;
  }
}
