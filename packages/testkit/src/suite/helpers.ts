/** Small helpers the contract groups share: deterministic bytes, puts of bytes or streams, reads, listings. */
import { BackupEngine, openRestoreFile, openVolumeFile, type ObjectBody, type StorageDriver } from '@stowage/core';
import { createHash } from 'node:crypto';
import { sha256File } from '../volume-files.js';

export const MiB = 1024 * 1024;

export interface Location {
  readonly container: string;
  readonly prefix: string;
}

/** `size` deterministic, incompressible bytes for `seed`. */
export function seededBytes(size: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(size);
  let block = createHash('sha256').update(`seed-${seed}`).digest();
  for (let at = 0; at < size; at += block.length) {
    block.copy(out, at);
    block = createHash('sha256').update(block).digest();
  }
  return out;
}

export function sha256Hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Put `data`, as bytes or (with `parts`) as a stream of that many pieces. */
export async function putBytes(driver: StorageDriver, container: string, key: string, data: Buffer, parts?: number): Promise<void> {
  const body =
    parts === undefined
      ? data
      : (async function* () {
          const size = Math.ceil(data.length / parts);
          for (let at = 0; at < data.length; at += size) yield data.subarray(at, at + size);
        })();
  await driver.putObject(container, key, body, { length: data.length, sha256: sha256Hex(data) });
}

export async function drain(body: ObjectBody): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of body) parts.push(Buffer.from(part));
  return Buffer.concat(parts);
}

export async function getBytes(driver: StorageDriver, container: string, key: string): Promise<Buffer> {
  return drain(await driver.getObject(container, key));
}

export async function listKeys(driver: StorageDriver, container: string, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const key of driver.listObjects(container, prefix)) keys.push(key);
  return keys;
}

/** Run `run` over `items` with at most `limit` at a time. */
export async function inParallel<T>(items: readonly T[], limit: number, run: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) await run(items[next++]!);
    }),
  );
}

/** Back up the volume file at `path` into `location` (the backup id is read from core's default prefix). */
export async function backupFile(
  engine: BackupEngine,
  path: string,
  location: Location,
  volumeId: string,
  options: { parent?: Location; signal?: AbortSignal; onBytes?: (done: number) => void } = {},
) {
  const source = await openVolumeFile(path);
  try {
    const backupId = location.prefix.split('/')[1]!.replace('backup_', '');
    return await engine.backup({
      ...location,
      backupId,
      volumeId,
      source,
      parent: options.parent,
      signal: options.signal,
      onProgress: options.onBytes ? ({ bytesDone }) => options.onBytes?.(bytesDone) : undefined,
    });
  } finally {
    await source.close();
  }
}

/** Restore into `path` and return the restored file's sha256. */
export async function restoreFile(engine: BackupEngine, location: Location, path: string): Promise<string> {
  const target = await openRestoreFile(path);
  try {
    await engine.restore({ ...location, target });
  } finally {
    await target.close();
  }
  return sha256File(path);
}
