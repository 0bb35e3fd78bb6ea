/**
 * A 256 MiB volume through BackupEngine on S3 (s3api), byte-identical after restore, with the throughput of the
 * backup and the restore printed next to a raw PutObject/GetObject loop of the same bytes through the same SDK client.
 */
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { measureDriverThroughput } from '@stowage/testkit';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import plugin, { type S3Store } from '../src/index.js';
import { deleteBucket, s3TestOptions, swiftTestServer } from './s3-test-helpers.js';

const MiB = 1024 * 1024;
const server = swiftTestServer();

describe.skipIf(!server.requirement.available)('s3 throughput', () => {
  const bucket = `stowage-throughput-${randomUUID().slice(0, 8)}`;
  let workDir = '';
  let driver: S3Store | undefined;

  afterAll(async () => {
    if (driver !== undefined) {
      await deleteBucket(driver, bucket);
      await driver.close();
    }
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  it('round trips a 256 MiB volume byte-identical and reports throughput', { timeout: 600_000 }, async () => {
    workDir = await mkdtemp(join(tmpdir(), 'stowage-s3-throughput-'));
    const result = await plugin.optionsSchema['~standard'].validate(s3TestOptions(server.endpoints(), bucket));
    if (result.issues) throw new Error(JSON.stringify(result.issues));
    const store = plugin.create(result.value, { backendName: 's3-throughput', statePath: '/nonexistent' }) as S3Store;
    driver = store;
    await store.doSetup();
    const key = (index: number) => `raw/${String(index).padStart(6, '0')}`;
    const report = await measureDriverThroughput({
      driver: store,
      container: bucket,
      workDir,
      volumeSize: 256 * MiB,
      seed: 's3-throughput',
      rawPut: async (index, data) => {
        await store.client.send(new PutObjectCommand({ Bucket: bucket, Key: key(index), Body: data, ContentLength: data.length }));
      },
      rawGet: async (index) => {
        const response = await store.client.send(new GetObjectCommand({ Bucket: bucket, Key: key(index) }));
        return (await response.Body!.transformToByteArray()).length;
      },
    });
    console.log(report.summary);
    expect(report.restoredIdentical).toBe(true);
    expect(report.rawBytesRead).toBe(256 * MiB);
  });
});
