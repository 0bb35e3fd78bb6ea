import { createServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A buffered answer of the real server, for `rewrite` to change before the client sees it. */
export interface ProxiedResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** What the proxy does with one request instead of passing it through untouched. */
export type FaultAction =
  /** Answer it without asking the server; the handler gets the request's body, read in full. */
  | { readonly respond: (request: IncomingMessage, response: ServerResponse, body: Buffer) => void }
  /** Pass it to the server, then change its answer (status, headers, body) before the client gets it. */
  | { readonly rewrite: (response: ProxiedResponse) => ProxiedResponse };

/** Decides for each request: an action, or `undefined` to pass it through. */
export type FaultRule = (request: IncomingMessage) => FaultAction | undefined;

/**
 * An HTTP proxy on 127.0.0.1 in front of a real server, for the cases the server cannot show by itself (an emulator
 * with no auth, no missing buckets, no errors on demand): `rule` answers chosen requests itself (a 401, a 404, one
 * 503 in the middle of an upload) or rewrites the server's answer; everything else goes to the server as is, body
 * and answer streamed. A request the server cannot take (it is down) gets its connection cut, as a dead server's.
 */
export class FaultProxy {
  rule: FaultRule = () => undefined;
  /** Requests passed to the server untouched, and requests a rule acted on, since the last `reset()`. */
  forwarded = 0;
  acted = 0;
  #base = '';
  readonly #target: URL;
  readonly #server = createServer((request, response) => this.#handle(request, response));

  /** `target`: the real server's base URL, e.g. `http://127.0.0.1:9199`. */
  constructor(target: string) {
    this.#target = new URL(target);
  }

  /** `http://127.0.0.1:<port>` once started. */
  get base(): string {
    return this.#base;
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    this.#base = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    return this;
  }

  reset(rule: FaultRule = () => undefined): void {
    this.rule = rule;
    this.forwarded = 0;
    this.acted = 0;
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise((resolve) => this.#server.close(resolve));
  }

  #handle(request: IncomingMessage, response: ServerResponse): void {
    const action = this.rule(request);
    if (action === undefined) this.forwarded += 1;
    else this.acted += 1;
    if (action !== undefined && 'respond' in action) {
      const parts: Buffer[] = [];
      request.on('data', (part: Buffer) => parts.push(part));
      request.on('end', () => action.respond(request, response, Buffer.concat(parts)));
      return;
    }
    const upstream = httpRequest(
      {
        host: this.#target.hostname,
        port: this.#target.port,
        method: request.method,
        path: request.url,
        headers: { ...request.headers, host: this.#target.host },
      },
      (answer) => {
        if (action === undefined) {
          response.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(response);
          return;
        }
        const parts: Buffer[] = [];
        answer.on('data', (part: Buffer) => parts.push(part));
        answer.on('error', () => response.destroy());
        answer.on('end', () => {
          const changed = action.rewrite({ status: answer.statusCode ?? 502, headers: { ...answer.headers }, body: Buffer.concat(parts) });
          const headers = { ...changed.headers, 'content-length': String(changed.body.length) };
          delete headers['transfer-encoding'];
          response.writeHead(changed.status, headers).end(changed.body);
        });
      },
    );
    // The server is down or dropped the connection: so does the proxy, which the client sees as a network failure.
    upstream.on('error', () => response.destroy());
    request.on('error', () => upstream.destroy());
    response.on('close', () => {
      if (!response.writableFinished) upstream.destroy();
    });
    request.pipe(upstream);
  }
}
