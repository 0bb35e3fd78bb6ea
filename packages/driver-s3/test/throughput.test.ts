/**
 * A 256 MiB volume through BackupEngine on S3 (s3api), byte-identical after restore, with the throughput of the
 * backup and the restore printed next to a raw PutObject/GetObject loop of the same bytes against the same proxy.
 */
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { BackupEngine, DEFAULT_CHUNK_SIZE, defaultBackupPrefix, openRestoreFile, openVolumeFile } from '@stowage/core';
import { generateVolumeFile, sha256File } from '@stowage/testkit';
import { randomUUID } from 'node:crypto';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import plugin, { type S3Store } from '../src/index.js';
import { deleteBucket, s3TestOptions, swiftTestServer } from './s3-test-helpers.js';

const MiB = 1024 * 1024;
const VOLUME_SIZE = 256 * MiB;
const server = swiftTestServer();

const rate = (bytes: number, ms: number) => `${(bytes / MiB / (ms / 1000)).toFixed(0)} MiB/s (${(ms / 1000).toFixed(2)} s)`;

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
    const endpoints = server.endpoints();
    workDir = await mkdtemp(join(tmpdir(), 'stowage-s3-throughput-'));
    const result = await plugin.optionsSchema['~standard'].validate(s3TestOptions(endpoints, bucket));
    if (result.issues) throw new Error(JSON.stringify(result.issues));
    const store = plugin.create(result.value, { backendName: 's3-throughput', statePath: '/nonexistent' }) as S3Store;
    driver = store;
    await store.doSetup();
    const engine = new BackupEngine({ driver: store, backendName: 's3-throughput' });

    const volumePath = join(workDir, 'volume');
    await generateVolumeFile(volumePath, { size: VOLUME_SIZE, seed: 's3-throughput' });
    const original = await sha256File(volumePath);
    const volumeId = randomUUID();
    const backupId = randomUUID();
    const location = { container: bucket, prefix: defaultBackupPrefix(volumeId, backupId) };

    const source = await openVolumeFile(volumePath);
    let started = performance.now();
    const backup = await engine.backup({ ...location, backupId, volumeId, source }).finally(() => source.close());
    const backupMs = performance.now() - started;

    const restoredPath = join(workDir, 'restored');
    const target = await openRestoreFile(restoredPath);
    started = performance.now();
    await engine.restore({ ...location, target }).finally(() => target.close());
    const restoreMs = performance.now() - started;
    expect(await sha256File(restoredPath)).toBe(original);

    // Raw loop: the same bytes in engine-sized chunks through the same SDK client, as many at once as the engine.
    const handle = await open(volumePath, 'r');
    const chunks = Math.ceil(VOLUME_SIZE / DEFAULT_CHUNK_SIZE);
    const key = (index: number) => `raw/${String(index).padStart(6, '0')}`;
    const inParallel = async (run: (index: number) => Promise<void>) => {
      let next = 0;
      await Promise.all(
        Array.from({ length: engine.concurrency }, async () => {
          while (next < chunks) await run(next++);
        }),
      );
    };
    started = performance.now();
    await inParallel(async (index) => {
      const buffer = Buffer.allocUnsafe(Math.min(DEFAULT_CHUNK_SIZE, VOLUME_SIZE - index * DEFAULT_CHUNK_SIZE));
      await handle.read(buffer, 0, buffer.length, index * DEFAULT_CHUNK_SIZE);
      await store.client.send(new PutObjectCommand({ Bucket: bucket, Key: key(index), Body: buffer, ContentLength: buffer.length }));
    });
    const rawPutMs = performance.now() - started;
    await handle.close();
    started = performance.now();
    let rawBytes = 0;
    await inParallel(async (index) => {
      const response = await store.client.send(new GetObjectCommand({ Bucket: bucket, Key: key(index) }));
      const bytes = (await response.Body!.transformToByteArray()).length;
      rawBytes += bytes;
    });
    const rawGetMs = performance.now() - started;
    expect(rawBytes).toBe(VOLUME_SIZE);

    console.log(
      [
        `s3 (s3api) throughput, ${VOLUME_SIZE / MiB} MiB volume (${backup.objectCount} objects, ${(backup.storedBytes / MiB).toFixed(0)} MiB stored, concurrency ${engine.concurrency}):`,
        `  engine backup   ${rate(VOLUME_SIZE, backupMs)}`,
        `  engine restore  ${rate(VOLUME_SIZE, restoreMs)}`,
        `  raw PUT loop    ${rate(VOLUME_SIZE, rawPutMs)}`,
        `  raw GET loop    ${rate(VOLUME_SIZE, rawGetMs)}`,
      ].join('\n'),
    );
  });
});
