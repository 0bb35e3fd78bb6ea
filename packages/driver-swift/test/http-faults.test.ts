/**
 * Answers a healthy cluster never gives on demand (503 then success, 507, a request that never gets an answer),
 * served by a small scripted stand-in for the proxy on 127.0.0.1. No Swift needed: these always run.
 */
import { ChecksumMismatchError, StorageUnavailableError, type StorageDriver } from '@stowage/core';
import { ScriptedServer, drainError, rejectionOf } from '@stowage/testkit';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import plugin, { type SwiftOptionsInput } from '../src/index.js';

const { status } = ScriptedServer;

describe('swift against a scripted proxy', () => {
  // Auth answers by itself; object requests follow the script (the last handler repeats).
  const server: ScriptedServer = new ScriptedServer((request, response) => {
    if (request.url !== '/auth/v1.0') return false;
    response.writeHead(200, { 'X-Auth-Token': 'AUTH_tk1', 'X-Storage-Url': `${server.base}/v1/AUTH_test` }).end();
    return true;
  });

  beforeAll(() => server.start());
  afterAll(() => server.close());
  beforeEach(() => server.reset());

  const create = async (overrides: Partial<SwiftOptionsInput> = {}): Promise<StorageDriver> => {
    const result = await plugin.optionsSchema['~standard'].validate({
      auth_url: `${server.base}/auth/v1.0`,
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
  const put = (driver: StorageDriver) => driver.putObject('c', 'k', Buffer.from('data'), { length: 4, sha256: '' });

  it('retries a 503 with backoff and succeeds', async () => {
    server.reset([status(503), status(503), status(201, { ETag: '8d777f385d3dfec8815d20f7496026dc' })]);
    await put(await create());
    expect(server.requests).toBe(3);
  });

  it('gives up after retry_attempts with StorageUnavailableError on a lasting 507', async () => {
    server.reset([status(507)]);
    const error = await rejectionOf(put(await create()));
    expect(StorageUnavailableError.isInstance(error), String(error)).toBe(true);
    expect(error?.message).toMatch(/no space left/);
    expect(server.requests).toBe(3);
  });

  it('refuses an upload whose returned ETag differs from the MD5 sent', async () => {
    server.reset([status(201, { ETag: '00000000000000000000000000000000' })]);
    const error = await rejectionOf(put(await create()));
    expect(ChecksumMismatchError.isInstance(error), String(error)).toBe(true);
  });

  it('abandons a request that gets no answer within timeout', async () => {
    server.reset([() => {}]);
    const started = Date.now();
    const error = await rejectionOf((await create({ timeout: 0.3, retry_attempts: 1 })).checkAvailable());
    expect(StorageUnavailableError.isInstance(error), String(error)).toBe(true);
    expect(error?.message).toMatch(/no answer within 0.3 s/);
    expect(server.requests).toBe(2);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('abandons a download that stalls mid-body', async () => {
    server.reset([
      (_request, response) => {
        response.writeHead(200, { 'Content-Length': '1000' });
        response.write(Buffer.alloc(10));
      },
    ]);
    const body = await (await create({ timeout: 0.3 })).getObject('c', 'k');
    const error = await drainError(body);
    expect(StorageUnavailableError.isInstance(error), String(error)).toBe(true);
    expect(error?.message).toMatch(/stalled/);
  });
});
