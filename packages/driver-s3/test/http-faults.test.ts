/**
 * Answers a healthy service never gives on demand (a lasting 503, 503 then success, no answer at all), served by a
 * small scripted stand-in on 127.0.0.1. No Swift needed: these always run.
 */
import { StorageUnavailableError } from '@stowage/core';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import plugin, { type S3Store } from '../src/index.js';

type Handler = (request: IncomingMessage, response: ServerResponse) => void;

describe('s3 against a scripted service', () => {
  let server: Server;
  let base = '';
  let script: Handler[] = [];
  let requests = 0;
  const drivers: S3Store[] = [];

  beforeAll(async () => {
    server = createServer((request, response) => {
      request.resume();
      const handler = script[Math.min(requests, script.length - 1)]!;
      requests += 1;
      request.on('end', () => handler(request, response));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    for (const driver of drivers) await driver.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  beforeEach(() => {
    requests = 0;
  });

  const create = async (overrides: Record<string, unknown> = {}): Promise<S3Store> => {
    const result = await plugin.optionsSchema['~standard'].validate({
      endpoint: base,
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
  const status = (code: number, body = ''): Handler => (_request, response) => {
    response.writeHead(code, body ? { 'Content-Type': 'application/xml' } : {}).end(body);
  };
  const put = (driver: S3Store) => driver.putObject('b', 'k', Buffer.from('data'), { length: 4, sha256: '' });

  it('retries a 503 and succeeds', async () => {
    script = [status(503), status(200)];
    await put(await create());
    expect(requests).toBe(2);
  });

  it('gives up after retry_max_attempts with StorageUnavailableError on a lasting 503', async () => {
    script = [status(503, '<Error><Code>ServiceUnavailable</Code><Message>busy</Message></Error>')];
    const error = await put(await create()).then(
      () => undefined,
      (thrown: unknown) => thrown as Error,
    );
    expect(StorageUnavailableError.isInstance(error), String(error)).toBe(true);
    expect(error?.message).toContain('b/k');
    expect(requests).toBe(3);
  });

  it('abandons a request that gets no answer within timeout', async () => {
    script = [() => {}];
    const started = Date.now();
    const error = await (await create({ timeout: 0.3, retry_max_attempts: 1 })).checkAvailable().then(
      () => undefined,
      (thrown: unknown) => thrown as Error,
    );
    expect(StorageUnavailableError.isInstance(error), String(error)).toBe(true);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('sends the configured server-side encryption on writes, and an SSE-C key on reads too', async () => {
    const seen: Array<{ method: string | undefined; headers: Record<string, unknown> }> = [];
    const record: Handler = (request, response) => {
      seen.push({ method: request.method, headers: request.headers });
      response.writeHead(200, { 'Content-Length': '0' }).end();
    };
    script = [record];
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
    script = [
      (_request, response) => {
        response.writeHead(200, { 'Content-Length': '1000' });
        response.write(Buffer.alloc(10));
      },
    ];
    const body = await (await create({ timeout: 0.3 })).getObject('b', 'k');
    const error = await (async () => {
      for await (const _part of body) {
        // drain
      }
    })().then(
      () => undefined,
      (thrown: unknown) => thrown as Error,
    );
    expect(StorageUnavailableError.isInstance(error), String(error)).toBe(true);
    expect(error?.message).toContain('b/k');
  });
});
