/**
 * The shared fault suite against the cluster's s3api (bad credentials, a missing bucket, the proxy stopped before
 * and in the middle of a backup, a request never answered), and the S3-specific paths (an unknown access key,
 * DeleteObjects' Content-MD5, multipart from bytes).
 */
import { DriverSetupError, StorageAuthError } from '@stowage/core';
import { createFromPlugin, rejectionOf, runDriverFaultSuite } from '@stowage/testkit';
import { createHash, randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import plugin, { type S3Store } from '../src/index.js';
import { deleteBucket, s3TestOptions, swiftTestServer } from './s3-test-helpers.js';

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

if (server.requirement.available) {
  const endpoints = server.endpoints();
  const bucket = `stowage-faults-${randomUUID().slice(0, 8)}`;
  const drivers: S3Store[] = [];
  const create = async (overrides: Record<string, unknown> = {}): Promise<S3Store> => {
    const driver = (await createFromPlugin(plugin, { ...s3TestOptions(endpoints, bucket), ...overrides }, { backendName: 's3-faults' })) as S3Store;
    drivers.push(driver);
    return driver;
  };
  const proxy = (action: 'stop-server' | 'start-server') => () => server.control(action, 'proxy');

  runDriverFaultSuite({
    name: 's3',
    createDriver: () => create(),
    badCredentials: { create: () => create({ secret_key: 'wrong-secret' }), message: /authentication with access key test:tester/ },
    missingContainer: { create: (name) => create({ bucket: name, create_bucket: false }), option: 'create_bucket' },
    serverStopped: { stop: proxy('stop-server'), start: proxy('start-server'), message: /ECONNREFUSED/, failFastMs: 20_000 },
    unansweredRequest: { create: (url) => create({ endpoint: url, timeout: 0.3, retry_max_attempts: 1 }), withinMs: 5000 },
  });

  describe('s3 specifics', () => {
    // After both describes (vitest runs them in order): the bucket the fault cases created goes too.
    afterAll(async () => {
      await deleteBucket(await create(), bucket);
      for (const driver of drivers) await driver.close();
    });

    it('a wrong secret is a StorageAuthError on a call whose answer has a body (SignatureDoesNotMatch)', async () => {
      const driver = await create({ secret_key: 'wrong-secret' });
      const list = await rejectionOf(keysOf(driver.listObjects(bucket, '')));
      expect(StorageAuthError.isInstance(list), String(list)).toBe(true);
    });

    it('an unknown access key fails doSetup naming authentication', async () => {
      const driver = await create({ access_key: 'nobody:nobody' });
      const error = await rejectionOf(driver.doSetup());
      expect(DriverSetupError.isInstance(error), String(error)).toBe(true);
      expect(error.message).toMatch(/authentication with access key nobody:nobody/);
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
  });
} else {
  describe.skip(`driver faults: s3 (${server.requirement.reason})`, () => {
    it('needs the Swift test cluster with s3api', () => {});
  });
}
