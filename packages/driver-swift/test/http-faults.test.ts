/**
 * Answers a healthy cluster never gives on demand (503 then success, 507, a request that never gets an answer),
 * served by a small scripted stand-in for the proxy on 127.0.0.1. No Swift needed: these always run.
 */
import { ChecksumMismatchError, StorageUnavailableError, type StorageDriver } from '@stowage/core';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import plugin, { type SwiftOptionsInput } from '../src/index.js';

type Handler = (request: IncomingMessage, response: ServerResponse) => void;

describe('swift against a scripted proxy', () => {
  let server: Server;
  let base = '';
  /** What object requests get, in order; the last one repeats. */
  let script: Handler[] = [];
  let objectRequests = 0;

  beforeAll(async () => {
    server = createServer((request, response) => {
      request.resume();
      if (request.url === '/auth/v1.0') {
        response.writeHead(200, { 'X-Auth-Token': 'AUTH_tk1', 'X-Storage-Url': `${base}/v1/AUTH_test` }).end();
        return;
      }
      const handler = script[Math.min(objectRequests, script.length - 1)]!;
      objectRequests += 1;
      request.on('end', () => handler(request, response));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  beforeEach(() => {
    objectRequests = 0;
  });

  const create = async (overrides: Partial<SwiftOptionsInput> = {}): Promise<StorageDriver> => {
    const result = await plugin.optionsSchema['~standard'].validate({
      auth_url: `${base}/auth/v1.0`,
      user: 'test:tester',
      key: 'testing',
      retry_attempts: 2,
      retry_backoff: 0.01,
      timeout: 5,
      ...overrides,
    });
    if (result.issues) throw new Error(JSON.stringify(result.issues));
    return plugin.create(result.value, { backendName: 'swift-scripted', statePath: '/nonexistent' });
  };
  const status = (code: number, headers: Record<string, string> = {}): Handler => (_request, response) => {
    response.writeHead(code, headers).end();
  };
  const put = (driver: StorageDriver) => driver.putObject('c', 'k', Buffer.from('data'), { length: 4, sha256: '' });

  it('retries a 503 with backoff and succeeds', async () => {
    script = [status(503), status(503), status(201, { ETag: '8d777f385d3dfec8815d20f7496026dc' })];
    await put(await create());
    expect(objectRequests).toBe(3);
  });

  it('gives up after retry_attempts with StorageUnavailableError on a lasting 507', async () => {
    script = [status(507)];
    const error = await put(await create()).then(
      () => undefined,
      (thrown: unknown) => thrown as Error,
    );
    expect(StorageUnavailableError.isInstance(error), String(error)).toBe(true);
    expect(error?.message).toMatch(/no space left/);
    expect(objectRequests).toBe(3);
  });

  it('refuses an upload whose returned ETag differs from the MD5 sent', async () => {
    script = [status(201, { ETag: '00000000000000000000000000000000' })];
    const error = await put(await create()).then(
      () => undefined,
      (thrown: unknown) => thrown as Error,
    );
    expect(ChecksumMismatchError.isInstance(error), String(error)).toBe(true);
  });

  it('abandons a request that gets no answer within timeout', async () => {
    script = [() => {}];
    const started = Date.now();
    const error = await (await create({ timeout: 0.3, retry_attempts: 1 })).checkAvailable().then(
      () => undefined,
      (thrown: unknown) => thrown as Error,
    );
    expect(StorageUnavailableError.isInstance(error), String(error)).toBe(true);
    expect(error?.message).toMatch(/no answer within 0.3 s/);
    expect(objectRequests).toBe(2);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('abandons a download that stalls mid-body', async () => {
    script = [
      (_request, response) => {
        response.writeHead(200, { 'Content-Length': '1000' });
        response.write(Buffer.alloc(10));
      },
    ];
    const body = await (await create({ timeout: 0.3 })).getObject('c', 'k');
    const error = await (async () => {
      for await (const _part of body) {
        // drain
      }
    })().then(
      () => undefined,
      (thrown: unknown) => thrown as Error,
    );
    expect(StorageUnavailableError.isInstance(error), String(error)).toBe(true);
    expect(error?.message).toMatch(/stalled/);
  });
});
