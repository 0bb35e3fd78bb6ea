/** GCS specifics straight against the emulator: the CRC32C choice, the object prefix as stored, single-request uploads. */
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import type { GcsStore } from '../src/index.js';
import { createGcsDriver, drain, emptyBucket, gcsTestOptions, gcsTestServer, keysOf } from './gcs-test-helpers.js';

const server = gcsTestServer();

describe.skipIf(!server.requirement.available)('gcs on the emulator', () => {
  const bucket = `stowage-emulator-${randomUUID().slice(0, 8)}`;
  const create = async (overrides: Record<string, unknown> = {}) =>
    (await createGcsDriver(gcsTestOptions(server.endpoints().endpoint, bucket, overrides))) as GcsStore;

  afterAll(async () => emptyBucket(await create(), bucket));

  it('stores with checksum: crc32c, compared with the CRC32C the emulator computed', async () => {
    const driver = await create({ checksum: 'crc32c' });
    const data = Buffer.alloc(5_000_000, 3);
    await driver.putObject(bucket, 'crc32c/object', data, { length: data.length });
    const [metadata] = await driver.storage.bucket(bucket).file('crc32c/object').getMetadata();
    expect(metadata.crc32c).toBe('2A9lIQ==');
    expect((await drain(await driver.getObject(bucket, 'crc32c/object'))).equals(data)).toBe(true);
  });

  it('keeps objects under object_prefix and hands keys back without it', async () => {
    const driver = await create({ object_prefix: 'tenant-a/' });
    await driver.putObject(bucket, 'prefixed/key', Buffer.from('x'), { length: 1 });
    const [files] = await driver.storage.bucket(bucket).getFiles({ prefix: 'tenant-a/prefixed/' });
    expect(files.map((file) => file.name)).toEqual(['tenant-a/prefixed/key']);
    expect(await keysOf(driver.listObjects(bucket, 'prefixed/'))).toEqual(['prefixed/key']);
    // Another prefix sees none of it.
    expect(await keysOf((await create({ object_prefix: 'tenant-b/' })).listObjects(bucket, 'prefixed/'))).toEqual([]);
    await driver.deleteObject(bucket, 'prefixed/key');
    expect(await keysOf(driver.listObjects(bucket, 'prefixed/'))).toEqual([]);
  });

  it('uploads an object of 64 MiB in one request (no multi-chunk resumable upload, which the emulator cannot finish)', async () => {
    const driver = await create();
    const data = Buffer.alloc(64 * 1024 * 1024);
    for (let at = 0; at < data.length; at += 4096) data.writeUInt32BE(at, at);
    await driver.putObject(bucket, 'large/object', data, { length: data.length });
    const [metadata] = await driver.storage.bucket(bucket).file('large/object').getMetadata();
    expect(Number(metadata.size)).toBe(data.length);
    expect((await drain(await driver.getObject(bucket, 'large/object'))).equals(data)).toBe(true);
  });
});
