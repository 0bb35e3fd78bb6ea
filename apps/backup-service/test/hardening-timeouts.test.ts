/**
 * Issue 11, item 5: the API cuts off a client that sends its headers and then trickles the body one byte at a time
 * (configured small timeouts; the loop is bounded).
 */
import { connect } from 'node:net';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../src/config/load-config.js';
import { startService, type RunningService } from '../src/service.js';
import { freePort, tempDir } from './helpers/service-process.js';

let service: RunningService;
let dir: { path: string; remove: () => Promise<void> };
let port: number;

beforeAll(async () => {
  dir = await tempDir('timeouts');
  port = await freePort();
  const config = resolveConfig(
    {
      host: 'to',
      listen: `127.0.0.1:${port}`,
      state_path: dir.path,
      api_headers_timeout: 1,
      api_request_timeout: 2,
      api_idle_timeout: 3,
      backends: [{ name: 'b', driver: 'stowage-driver-example', options: { root: join(dir.path, 'b') } }],
    },
    { baseDir: dir.path, source: 'test' },
  );
  service = await startService(config, pino({ level: 'silent' }));
  await service.initialized;
});

afterAll(async () => {
  await service?.stop();
  await dir?.remove();
});

/** Send `head`, then one byte every `everyMs` until the server closes the socket or `maxBytes` were sent. */
async function trickle(head: string, everyMs: number, maxBytes: number): Promise<{ closed: boolean; sent: number; answer: string; elapsedMs: number }> {
  const socket = connect(port, '127.0.0.1');
  let closed = false;
  let answer = '';
  socket.on('data', (chunk) => (answer += chunk.toString()));
  socket.on('close', () => (closed = true));
  socket.on('error', () => (closed = true));
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  const started = Date.now();
  socket.write(head);
  let sent = 0;
  while (!closed && sent < maxBytes) {
    await new Promise((resolve) => setTimeout(resolve, everyMs));
    if (closed) break;
    socket.write('x');
    sent += 1;
  }
  const elapsedMs = Date.now() - started;
  socket.destroy();
  return { closed, sent, answer, elapsedMs };
}

describe('API timeouts', () => {
  it('cuts off a body sent one byte at a time', async () => {
    const head = 'POST /v3/p1/volumes HTTP/1.1\r\nHost: x\r\nX-Auth-Token: u1:p1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n';
    // 40 bytes at 250 ms = 10 s of trickling, well past the 2 s request timeout.
    const result = await trickle(head, 250, 40);
    expect(result.closed).toBe(true);
    expect(result.sent).toBeLessThan(40);
    expect(result.elapsedMs).toBeLessThan(8000);
  }, 20_000);

  it('cuts off headers sent one byte at a time', async () => {
    const result = await trickle('GET /v3/p1/volumes HTTP/1.1\r\nHost: x\r\nX-Slow: ', 250, 40);
    expect(result.closed).toBe(true);
    expect(result.sent).toBeLessThan(40);
  }, 20_000);

  it('still answers ordinary requests', async () => {
    const response = await fetch(`http://127.0.0.1:${port}/v3/p1/volumes`, { headers: { 'X-Auth-Token': 'u1:p1' } });
    expect(response.status).toBe(200);
  });
});
