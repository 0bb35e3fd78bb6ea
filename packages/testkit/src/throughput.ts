import { BackupEngine, DEFAULT_CHUNK_SIZE, defaultBackupPrefix, openRestoreFile, openVolumeFile, type StorageDriver } from '@stowage/core';
import { randomUUID } from 'node:crypto';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { generateVolumeFile, sha256File } from './volume-files.js';

const MiB = 1024 * 1024;

export interface ThroughputOptions {
  readonly driver: StorageDriver;
  readonly container: string;
  readonly workDir: string;
  readonly volumeSize: number;
  readonly seed: string;
  /** Store `data` as raw object number `index` with the backend's plain client (no engine). */
  readonly rawPut: (index: number, data: Buffer) => Promise<void>;
  /** Fetch raw object number `index`; returns its length. */
  readonly rawGet: (index: number) => Promise<number>;
}

export interface ThroughputReport {
  readonly restoredIdentical: boolean;
  readonly objectCount: number;
  readonly storedBytes: number;
  readonly concurrency: number;
  readonly seconds: { readonly backup: number; readonly restore: number; readonly rawPut: number; readonly rawGet: number };
  readonly rawBytesRead: number;
  /** Lines for the log and the closing note: MiB/s of each, the raw loop being what the driver's costs compare with. */
  readonly summary: string;
}

/**
 * A generated volume through the engine (backup, restore, sha256 compared) and the same bytes through a raw
 * PUT/GET loop of engine-sized objects, as many at once as the engine, against the same server in the same run.
 */
export async function measureDriverThroughput(options: ThroughputOptions): Promise<ThroughputReport> {
  const { driver, container, volumeSize } = options;
  const engine = new BackupEngine({ driver, backendName: `${driver.driverName}-throughput` });
  const volumePath = join(options.workDir, `throughput-volume-${randomUUID()}`);
  await generateVolumeFile(volumePath, { size: volumeSize, seed: options.seed });
  const original = await sha256File(volumePath);
  const backupId = randomUUID();
  const location = { container, prefix: defaultBackupPrefix(randomUUID(), backupId) };

  const source = await openVolumeFile(volumePath);
  let started = performance.now();
  const backup = await engine.backup({ ...location, backupId, volumeId: 'throughput', source }).finally(() => source.close());
  const backupSeconds = (performance.now() - started) / 1000;

  const restoredPath = `${volumePath}.restored`;
  const target = await openRestoreFile(restoredPath);
  started = performance.now();
  await engine.restore({ ...location, target }).finally(() => target.close());
  const restoreSeconds = (performance.now() - started) / 1000;
  const restoredIdentical = (await sha256File(restoredPath)) === original;

  const chunks = Math.ceil(volumeSize / DEFAULT_CHUNK_SIZE);
  const inParallel = async (run: (index: number) => Promise<void>) => {
    let next = 0;
    await Promise.all(
      Array.from({ length: engine.concurrency }, async () => {
        while (next < chunks) await run(next++);
      }),
    );
  };
  const handle = await open(volumePath, 'r');
  started = performance.now();
  await inParallel(async (index) => {
    const data = Buffer.allocUnsafe(Math.min(DEFAULT_CHUNK_SIZE, volumeSize - index * DEFAULT_CHUNK_SIZE));
    await handle.read(data, 0, data.length, index * DEFAULT_CHUNK_SIZE);
    await options.rawPut(index, data);
  }).finally(() => handle.close());
  const rawPutSeconds = (performance.now() - started) / 1000;
  let rawBytesRead = 0;
  started = performance.now();
  await inParallel(async (index) => {
    const length = await options.rawGet(index);
    rawBytesRead += length; // not `+= await`: that reads the total before the await and loses concurrent updates
  });
  const rawGetSeconds = (performance.now() - started) / 1000;

  const rate = (seconds: number) => `${(volumeSize / MiB / seconds).toFixed(0)} MiB/s (${seconds.toFixed(2)} s)`;
  const summary = [
    `${driver.driverName} throughput, ${volumeSize / MiB} MiB volume (${backup.objectCount} objects, ${(backup.storedBytes / MiB).toFixed(0)} MiB stored, concurrency ${engine.concurrency}):`,
    `  engine backup   ${rate(backupSeconds)}`,
    `  engine restore  ${rate(restoreSeconds)}`,
    `  raw PUT loop    ${rate(rawPutSeconds)}`,
    `  raw GET loop    ${rate(rawGetSeconds)}`,
  ].join('\n');
  return {
    restoredIdentical,
    objectCount: backup.objectCount,
    storedBytes: backup.storedBytes,
    concurrency: engine.concurrency,
    seconds: { backup: backupSeconds, restore: restoreSeconds, rawPut: rawPutSeconds, rawGet: rawGetSeconds },
    rawBytesRead,
    summary,
  };
}
