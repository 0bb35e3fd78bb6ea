/**
 * Answers a healthy service never gives on demand (a lasting 503, 503 then success, no answer at all), served by a
 * small scripted stand-in on 127.0.0.1. No Swift needed: these always run.
 */
import { StorageUnavailableError } from '@stowage/core';
import { ScriptedServer, drainError, rejectionOf, type ScriptedHandler } from '@stowage/testkit';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import plugin, { type S3Store } from '../src/index.js';

const { status } = ScriptedServer;

describe('s3 against a scripted service', () => {
  const server = new ScriptedServer();
  const drivers: S3Store[] = [];

  beforeAll(() => server.start());
  afterAll(async () => {
    for (const driver of drivers) await driver.close();
    await server.close();
  });
  beforeEach(() => server.reset());

  const create = async (overrides: Record<string, unknown> = {}): Promise<S3Store> => {
    const result = await plugin.optionsSchema['~standard'].validate({
      endpoint: server.base,
      force_path_style: true,
      access_key: 'a',
      secret_key: 'b',
      retry_max_attempts: 3,
      timeout: 5,
      ...overrides,
    });
    if (result.issues) throw new Error(JSON.stringify(result.issues));
    const driver = plugin.create(result.value, { backendName: 's3-scripted', statePath: '/nonexistent' }) as S3Store;
    drivers.push(driver);
    return driver;
  };
  const put = (driver: S3Store) => driver.putObject('b', 'k', Buffer.from('data'), { length: 4, sha256: '' });

  it('retries a 503 and succeeds', async () => {
    server.reset([status(503), status(200)]);
    await put(await create());
    expect(server.requests).toBe(2);
  });

  it('gives up after retry_max_attempts with StorageUnavailableError on a lasting 503', async () => {
    server.reset([status(503, { 'Content-Type': 'application/xml' }, '<Error><Code>ServiceUnavailable</Code><Message>busy</Message></Error>')]);
    const error = await rejectionOf(put(await create()));
    expect(StorageUnavailableError.isInstance(error), String(error)).toBe(true);
    expect(error?.message).toContain('b/k');
    expect(server.requests).toBe(3);
  });

  it('abandons a request that gets no answer within timeout', async () => {
    server.reset([() => {}]);
    const started = Date.now();
    const error = await rejectionOf((await create({ timeout: 0.3, retry_max_attempts: 1 })).checkAvailable());
    expect(StorageUnavailableError.isInstance(error), String(error)).toBe(true);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('sends the configured server-side encryption on writes, and an SSE-C key on reads too', async () => {
    const seen: Array<{ method: string | undefined; headers: Record<string, unknown> }> = [];
    const record: ScriptedHandler = (request, response) => {
      seen.push({ method: request.method, headers: request.headers });
      response.writeHead(200, { 'Content-Length': '0' }).end();
    };
    server.reset([record]);
    await (await create({ sse: 'aws:kms', sse_kms_key_id: 'key-1' })).putObject('b', 'k', Buffer.from('data'), { length: 4, sha256: '' });
    expect(seen[0]?.headers).toMatchObject({ 'x-amz-server-side-encryption': 'aws:kms', 'x-amz-server-side-encryption-aws-kms-key-id': 'key-1' });
    expect(seen[0]?.headers['content-md5']).toBe('jXd/OF09/siBXSD3SWAm3A==');

    const customerKey = Buffer.alloc(32, 7).toString('base64');
    const sseC = await create({ sse_customer_key: customerKey });
    await sseC.putObject('b', 'k', Buffer.from('data'), { length: 4, sha256: '' });
    for await (const _part of await sseC.getObject('b', 'k')) {
      // drain
    }
    for (const { headers } of seen.slice(1)) {
      expect(headers['x-amz-server-side-encryption-customer-algorithm']).toBe('AES256');
      expect(headers['x-amz-server-side-encryption-customer-key']).toBe(customerKey);
    }
    expect(seen.map(({ method }) => method)).toEqual(['PUT', 'PUT', 'GET']);
  });

  it('abandons a download that stalls mid-body', async () => {
    server.reset([
      (_request, response) => {
        response.writeHead(200, { 'Content-Length': '1000' });
        response.write(Buffer.alloc(10));
      },
    ]);
    const body = await (await create({ timeout: 0.3 })).getObject('b', 'k');
    const error = await drainError(body);
    expect(StorageUnavailableError.isInstance(error), String(error)).toBe(true);
    expect(error?.message).toContain('b/k');
  });
});
