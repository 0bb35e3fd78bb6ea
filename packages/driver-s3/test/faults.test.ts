/**
 * Failure cases against the cluster's s3api: bad credentials, a missing bucket, the proxy stopped (before and in
 * the middle of a backup) and started again; plus the S3-specific paths (DeleteObjects' Content-MD5, multipart).
 */
import {
  DriverSetupError,
  StorageAuthError,
  StorageUnavailableError,
} from '@stowage/core';
import { rejectionOf, runOutageDuringBackup } from '@stowage/testkit';
import { createHash, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import plugin, { type S3Store } from '../src/index.js';
import { deleteBucket, s3TestOptions, swiftTestServer, type SwiftEndpoints } from './s3-test-helpers.js';

const MiB = 1024 * 1024;
const server = swiftTestServer();

async function drain(body: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of body) parts.push(Buffer.from(part));
  return Buffer.concat(parts);
}

async function keysOf(listing: AsyncIterable<string>): Promise<string[]> {
  const keys: string[] = [];
  for await (const key of listing) keys.push(key);
  return keys;
}

describe.skipIf(!server.requirement.available)('s3 faults', () => {
  let endpoints: SwiftEndpoints;
  let workDir = '';
  const bucket = `stowage-faults-${randomUUID().slice(0, 8)}`;
  const drivers: S3Store[] = [];

  const create = async (overrides: Record<string, unknown> = {}): Promise<S3Store> => {
    const result = await plugin.optionsSchema['~standard'].validate({ ...s3TestOptions(endpoints, bucket), ...overrides });
    if (result.issues) throw new Error(`bad test options: ${JSON.stringify(result.issues)}`);
    const driver = plugin.create(result.value, { backendName: 's3-faults', statePath: '/nonexistent' }) as S3Store;
    drivers.push(driver);
    return driver;
  };

  beforeAll(async () => {
    endpoints = server.endpoints();
    workDir = await mkdtemp(join(tmpdir(), 'stowage-s3-faults-'));
  });

  afterAll(async () => {
    await server.control('start-server', 'proxy');
    await deleteBucket(await create(), bucket);
    for (const driver of drivers) await driver.close();
    await rm(workDir, { recursive: true, force: true });
  });

  it('a wrong secret fails doSetup with a DriverSetupError naming authentication', async () => {
    const driver = await create({ secret_key: 'wrong-secret' });
    const error = await rejectionOf(driver.doSetup());
    expect(DriverSetupError.isInstance(error), String(error)).toBe(true);
    expect(error.message).toMatch(/authentication with access key test:tester/);
    expect(StorageAuthError.isInstance(error.cause), String(error.cause)).toBe(true);
    // A call with a body in the answer names SignatureDoesNotMatch; it is a StorageAuthError too.
    const list = await rejectionOf(keysOf(driver.listObjects(bucket, '')));
    expect(StorageAuthError.isInstance(list), String(list)).toBe(true);
  });

  it('an unknown access key fails doSetup naming authentication', async () => {
    const driver = await create({ access_key: 'nobody:nobody' });
    const error = await rejectionOf(driver.doSetup());
    expect(DriverSetupError.isInstance(error), String(error)).toBe(true);
    expect(error.message).toMatch(/authentication with access key nobody:nobody/);
  });

  it('a missing bucket with create_bucket off fails doSetup naming the bucket', async () => {
    const missing = `stowage-missing-${randomUUID().slice(0, 8)}`;
    const driver = await create({ bucket: missing, create_bucket: false });
    const error = await rejectionOf(driver.doSetup());
    expect(DriverSetupError.isInstance(error), String(error)).toBe(true);
    expect(error.message).toContain(`bucket ${missing} does not exist`);
    expect(error.message).toContain('create_bucket');
    expect((error as DriverSetupError).container).toBe(missing);
    const check = await rejectionOf(driver.checkAvailable());
    expect(StorageUnavailableError.isInstance(check), String(check)).toBe(true);
    expect(check.message).toContain(`bucket ${missing} does not exist`);
  });

  it('DeleteObjects carries the Content-MD5 s3api requires', async () => {
    const driver = await create();
    await driver.doSetup();
    const keys = ['bulk/a', 'bulk/b', 'bulk/c'];
    for (const key of keys) await driver.putObject(bucket, key, Buffer.from(key), { length: key.length, sha256: '' });
    await driver.deleteObjects(bucket, [...keys, 'bulk/never-existed']);
    expect(await keysOf(driver.listObjects(bucket, 'bulk/'))).toEqual([]);
  });

  it('uploads a large object in bytes as multipart and reads it back', async () => {
    const driver = await create({ multipart_threshold: 16 * MiB, multipart_part_size: 8 * MiB });
    await driver.doSetup();
    const data = Buffer.alloc(40 * MiB + 123);
    for (let at = 0; at < data.length; at += 32) createHash('sha256').update(String(at)).digest().copy(data, at);
    await driver.putObject(bucket, 'multipart/bytes', data, { length: data.length, sha256: '' });
    const back = await drain(await driver.getObject(bucket, 'multipart/bytes'));
    expect(back.equals(data)).toBe(true);
  });

  it('the proxy stopped gives StorageUnavailableError, and the same driver works once it is back', async () => {
    const driver = await create();
    await driver.doSetup();
    await driver.putObject(bucket, 'before-stop', Buffer.from('x'), { length: 1, sha256: '' });
    await server.control('stop-server', 'proxy');
    try {
      const started = Date.now();
      const check = await rejectionOf(driver.checkAvailable());
      expect(StorageUnavailableError.isInstance(check), String(check)).toBe(true);
      expect(check.message).toMatch(/ECONNREFUSED/);
      const put = await rejectionOf(driver.putObject(bucket, 'during-stop', Buffer.from('y'), { length: 1, sha256: '' }));
      expect(StorageUnavailableError.isInstance(put), String(put)).toBe(true);
      expect((put as StorageUnavailableError).object).toBe('during-stop');
      const get = await rejectionOf(driver.getObject(bucket, 'before-stop'));
      expect(StorageUnavailableError.isInstance(get), String(get)).toBe(true);
      const setup = await rejectionOf(driver.doSetup());
      expect(DriverSetupError.isInstance(setup), String(setup)).toBe(true);
      expect(StorageUnavailableError.isInstance(setup.cause), String(setup.cause)).toBe(true);
      expect(Date.now() - started).toBeLessThan(20_000);
    } finally {
      await server.control('start-server', 'proxy');
    }
    // Same client: it reconnects by itself.
    await driver.checkAvailable();
    await driver.putObject(bucket, 'after-restart', Buffer.from('z'), { length: 1, sha256: '' });
    expect((await drain(await driver.getObject(bucket, 'before-stop'))).toString()).toBe('x');
  });

  it('the proxy stopped in the middle of a backup fails it cleanly; after restart, delete leaves no orphans', async () => {
    const driver = await create();
    await driver.doSetup();
    const { error, orphans } = await runOutageDuringBackup({
      driver,
      container: bucket,
      workDir,
      stopServer: () => server.control('stop-server', 'proxy'),
      startServer: () => server.control('start-server', 'proxy'),
    });
    expect(StorageUnavailableError.isInstance(error), String(error)).toBe(true);
    expect(orphans).toEqual([]);
  });
});
