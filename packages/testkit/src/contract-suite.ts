import {
  AbortedError,
  BackupEngine,
  ChecksumMismatchError,
  DriverSetupError,
  NotFoundError,
  StowageError,
  defaultBackupPrefix,
  openRestoreFile,
  openVolumeFile,
  type ObjectBody,
  type StorageDriver,
} from '@stowage/core';
import { createHash, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { failingAfterPuts } from './fault-injection.js';
import { generateVolumeFile, mutateVolumeFile, sha256File } from './volume-files.js';

const MiB = 1024 * 1024;

export interface DriverFixture {
  /** A driver whose default container is fresh and empty (or at least holds nothing under the suite's prefixes). */
  readonly driver: StorageDriver;
  readonly cleanup?: () => Promise<void>;
}

export interface ContractSuiteOptions {
  /** Shown in test names, e.g. `posix`. */
  readonly name: string;
  /** Called once before the suite; `doSetup` has not been called yet. */
  readonly setup: () => Promise<DriverFixture>;
  /** A driver whose `doSetup` must fail (unreachable server, unusable path, bad credentials). */
  readonly createBrokenDriver: () => StorageDriver | Promise<StorageDriver>;
  /** Per-test timeout (default 60 s; network drivers may need more). */
  readonly timeoutMs?: number;
  /** Size of the volumes the engine round trips use (default 24 MiB). */
  readonly volumeSize?: number;
}

/**
 * The contract every Stowage driver satisfies, run against its real server: storage primitives, `doSetup`
 * shapes, and whole backup/restore round trips through core's engine. A driver package calls this from
 * `test/contract.test.ts` with a factory for its driver.
 */
export function runDriverContractSuite(options: ContractSuiteOptions): void {
  const timeout = options.timeoutMs ?? 60_000;
  const volumeSize = options.volumeSize ?? 24 * MiB;
  let fixture: DriverFixture | undefined;
  let workDir = '';
  const driver = (): StorageDriver => {
    if (fixture === undefined) throw new Error(`contract suite ${options.name}: setup() did not run`);
    return fixture.driver;
  };
  const container = () => driver().defaultContainer;
  const unique = (label: string) => `contract-${label}-${randomUUID()}/`;

  describe(`driver contract: ${options.name}`, { timeout }, () => {
    beforeAll(async () => {
      fixture = await options.setup();
      workDir = await mkdtemp(join(tmpdir(), `stowage-contract-${options.name}-`));
    }, timeout);

    afterAll(async () => {
      await fixture?.driver.close?.();
      await fixture?.cleanup?.();
      if (workDir) await rm(workDir, { recursive: true, force: true });
    }, timeout);

    describe('setup', () => {
      it('doSetup succeeds and checkAvailable passes on a working backend', async () => {
        await driver().doSetup();
        await driver().checkAvailable();
        await driver().ensureContainer(container());
      });

      it('doSetup of a misconfigured backend throws DriverSetupError with a message', async () => {
        const broken = await options.createBrokenDriver();
        try {
          const error = await broken.doSetup().then(
            () => undefined,
            (thrown: unknown) => thrown,
          );
          expect(error, 'doSetup of the broken driver resolved').toBeDefined();
          expect(DriverSetupError.isInstance(error), `expected DriverSetupError, got ${String(error)}`).toBe(true);
          expect((error as Error).message.length).toBeGreaterThan(10);
        } finally {
          await broken.close?.();
        }
      });

      it('declares sane capabilities', () => {
        const { capabilities } = driver();
        expect(capabilities.maxObjectSize).toBeGreaterThanOrEqual(8 * MiB);
        expect(capabilities.preferredConcurrency).toBeGreaterThanOrEqual(1);
        expect(driver().driverName).toMatch(/^[a-z0-9-]+$/);
        expect(driver().defaultContainer.length).toBeGreaterThan(0);
      });
    });

    describe('primitives', () => {
      it('puts and gets an object from bytes and from a stream', async () => {
        const prefix = unique('put');
        const data = randomBytes(300_000, 1);
        await put(driver(), container(), `${prefix}bytes`, data);
        await put(driver(), container(), `${prefix}stream`, data, 7);
        expect((await get(driver(), container(), `${prefix}bytes`)).equals(data)).toBe(true);
        expect((await get(driver(), container(), `${prefix}stream`)).equals(data)).toBe(true);
      });

      it('overwrites an existing object', async () => {
        const key = `${unique('overwrite')}object`;
        await put(driver(), container(), key, Buffer.from('first version'));
        await put(driver(), container(), key, Buffer.from('second'));
        expect((await get(driver(), container(), key)).toString()).toBe('second');
      });

      it('stores an empty object', async () => {
        const key = `${unique('empty')}object`;
        await put(driver(), container(), key, Buffer.alloc(0));
        expect((await get(driver(), container(), key)).length).toBe(0);
      });

      it('streams a large object in many parts', async () => {
        const key = `${unique('large')}object`;
        const size = Math.min(driver().capabilities.maxObjectSize, 40 * MiB);
        const data = randomBytes(size, 2);
        await put(driver(), container(), key, data, 64);
        const back = await get(driver(), container(), key);
        expect(back.length).toBe(size);
        expect(sha(back)).toBe(sha(data));
      });

      it('throws NotFoundError naming the object for a missing key', async () => {
        const key = `${unique('missing')}nothing-here`;
        const error = await driver()
          .getObject(container(), key)
          .then(drain)
          .then(
            () => undefined,
            (thrown: unknown) => thrown,
          );
        expect(NotFoundError.isInstance(error), `expected NotFoundError, got ${String(error)}`).toBe(true);
        expect((error as Error).message).toContain(key);
      });

      it('deletes objects, and deleting a missing object succeeds', async () => {
        const key = `${unique('delete')}object`;
        await put(driver(), container(), key, Buffer.from('short-lived'));
        await driver().deleteObject(container(), key);
        await expect(driver().getObject(container(), key).then(drain)).rejects.toSatisfy((error) => NotFoundError.isInstance(error));
        await driver().deleteObject(container(), key);
      });

      it('lists exactly the keys under a prefix, across many objects', async () => {
        const prefix = unique('list');
        const keys: string[] = [];
        for (let i = 0; i < 260; i += 1) keys.push(`${prefix}group-${i % 3}/object-${String(i).padStart(4, '0')}`);
        await inParallel(keys, 16, (key) => put(driver(), container(), key, Buffer.from(key)));
        await put(driver(), container(), `${prefix.slice(0, -1)}-sibling/not-listed`, Buffer.from('x'));
        expect((await list(driver(), container(), prefix)).sort()).toEqual([...keys].sort());
        const group = await list(driver(), container(), `${prefix}group-1/`);
        expect(group.sort()).toEqual(keys.filter((key) => key.startsWith(`${prefix}group-1/`)).sort());
        expect((await list(driver(), container(), `${prefix}group-1/object-01`)).sort()).toEqual(
          keys.filter((key) => key.startsWith(`${prefix}group-1/object-01`)).sort(),
        );
        expect(await list(driver(), container(), unique('nothing'))).toEqual([]);
      });

      it('handles concurrent puts', async () => {
        const prefix = unique('concurrent');
        const items = Array.from({ length: 24 }, (_, i) => ({ key: `${prefix}object-${i}`, data: randomBytes(200_000 + i, 10 + i) }));
        await Promise.all(items.map(({ key, data }) => put(driver(), container(), key, data)));
        for (const { key, data } of items) expect(sha(await get(driver(), container(), key))).toBe(sha(data));
      });

      it('rejects calls whose signal is already aborted', async () => {
        const signal = AbortSignal.abort(new Error('test abort'));
        const key = `${unique('abort')}object`;
        const error = await driver()
          .putObject(container(), key, Buffer.from('never'), { length: 5, sha256: sha(Buffer.from('never')), signal })
          .then(
            () => undefined,
            (thrown: unknown) => thrown,
          );
        expect(error, 'a put with an aborted signal resolved').toBeDefined();
        expect(AbortedError.isInstance(error) || (error as Error).name === 'AbortError').toBe(true);
      });

      it('treats a missing container as empty when listing', async () => {
        expect(await list(driver(), `contract-missing-${randomUUID().slice(0, 8)}`, '')).toEqual([]);
      });
    });

    describe('engine round trips', () => {
      const engineFor = (target: StorageDriver) =>
        new BackupEngine({ driver: target, backendName: options.name, chunkSize: 2 * MiB });

      it('full backup, incremental after 1% changed, restores of both byte-identical', async () => {
        const engine = engineFor(driver());
        const volumePath = join(workDir, 'volume-a');
        await generateVolumeFile(volumePath, { size: volumeSize, seed: `contract-${options.name}`, runSize: MiB });
        const originalSha = await sha256File(volumePath);
        const volumeId = randomUUID();
        const full = { container: container(), prefix: defaultBackupPrefix(volumeId, randomUUID()) };
        const fullResult = await backupFile(engine, volumePath, full, volumeId);
        expect(fullResult.objectCount).toBeGreaterThan(0);
        expect(fullResult.changedBytes).toBeLessThan(volumeSize);

        await mutateVolumeFile(volumePath, { fraction: 0.01, seed: 'contract' });
        const changedSha = await sha256File(volumePath);
        const incremental = { container: container(), prefix: defaultBackupPrefix(volumeId, randomUUID()) };
        const incrementalResult = await backupFile(engine, volumePath, incremental, volumeId, full);
        expect(incrementalResult.metadata.parent?.prefix).toBe(full.prefix);
        expect(incrementalResult.storedBytes).toBeLessThan(fullResult.storedBytes * 0.1);

        expect(await restoreFile(engine, full, join(workDir, 'restored-full'))).toBe(originalSha);
        expect(await restoreFile(engine, incremental, join(workDir, 'restored-incremental'))).toBe(changedSha);
      });

      it('stores nothing for zero regions and restores them as zeros', async () => {
        const engine = engineFor(driver());
        const volumePath = join(workDir, 'volume-zero');
        await generateVolumeFile(volumePath, { size: 8 * MiB, seed: 'zero', mix: { random: 0, zero: 1, text: 0 } });
        const location = { container: container(), prefix: defaultBackupPrefix(randomUUID(), randomUUID()) };
        const result = await backupFile(engine, volumePath, location, 'zero-volume');
        expect(result.objectCount).toBe(0);
        expect(result.changedBytes).toBe(0);
        expect(await restoreFile(engine, location, join(workDir, 'restored-zero'))).toBe(await sha256File(volumePath));
      });

      it('detects a corrupted chunk at restore with ChecksumMismatchError naming the object', async () => {
        const engine = engineFor(driver());
        const volumePath = join(workDir, 'volume-corrupt');
        await generateVolumeFile(volumePath, { size: 6 * MiB, seed: 'corrupt', mix: { random: 0.5, zero: 0, text: 0.5 } });
        const location = { container: container(), prefix: defaultBackupPrefix(randomUUID(), randomUUID()) };
        const result = await backupFile(engine, volumePath, location, 'corrupt-volume');
        const victim = result.metadata.objects[1] ?? result.metadata.objects[0]!;
        const key = location.prefix + victim.name;
        const stored = await get(driver(), container(), key);
        stored[Math.floor(stored.length / 2)]! ^= 0x01;
        await put(driver(), container(), key, stored);
        const error = await restoreFile(engine, location, join(workDir, 'restored-corrupt')).then(
          () => undefined,
          (thrown: unknown) => thrown,
        );
        expect(ChecksumMismatchError.isInstance(error), `expected ChecksumMismatchError, got ${String(error)}`).toBe(true);
        expect((error as StowageError).object).toBe(key);
        expect((error as Error).message).toContain(key);
      });

      it('deletes every object of a backup', async () => {
        const engine = engineFor(driver());
        const volumePath = join(workDir, 'volume-delete');
        await generateVolumeFile(volumePath, { size: 6 * MiB, seed: 'delete' });
        const location = { container: container(), prefix: defaultBackupPrefix(randomUUID(), randomUUID()) };
        await backupFile(engine, volumePath, location, 'delete-volume');
        expect((await list(driver(), container(), location.prefix)).length).toBeGreaterThan(2);
        await engine.delete(location);
        expect(await list(driver(), container(), location.prefix)).toEqual([]);
      });

      it('a backup that fails midway leaves no objects behind', async () => {
        const engine = engineFor(failingAfterPuts(driver(), 2));
        const volumePath = join(workDir, 'volume-fail');
        await generateVolumeFile(volumePath, { size: 12 * MiB, seed: 'fail', mix: { random: 1, zero: 0, text: 0 } });
        const location = { container: container(), prefix: defaultBackupPrefix(randomUUID(), randomUUID()) };
        await expect(backupFile(engine, volumePath, location, 'fail-volume')).rejects.toThrow(/injected failure/);
        expect(await list(driver(), container(), location.prefix)).toEqual([]);
      });

      it('a cancelled backup rejects with AbortedError and leaves no objects behind', async () => {
        const engine = engineFor(driver());
        const volumePath = join(workDir, 'volume-cancel');
        await generateVolumeFile(volumePath, { size: 12 * MiB, seed: 'cancel', mix: { random: 1, zero: 0, text: 0 } });
        const location = { container: container(), prefix: defaultBackupPrefix(randomUUID(), randomUUID()) };
        const controller = new AbortController();
        const error = await backupFile(engine, volumePath, location, 'cancel-volume', undefined, controller.signal, (done) => {
          if (done > 0) controller.abort(new Error('operator cancelled'));
        }).then(
          () => undefined,
          (thrown: unknown) => thrown,
        );
        expect(AbortedError.isInstance(error), `expected AbortedError, got ${String(error)}`).toBe(true);
        expect(await list(driver(), container(), location.prefix)).toEqual([]);
      });
    });
  });
}

type Location = { container: string; prefix: string };

async function backupFile(
  engine: BackupEngine,
  path: string,
  location: Location,
  volumeId: string,
  parent?: Location,
  signal?: AbortSignal,
  onBytes?: (done: number) => void,
) {
  const source = await openVolumeFile(path);
  try {
    const backupId = location.prefix.split('/')[1]!.replace('backup_', '');
    return await engine.backup({
      ...location,
      backupId,
      volumeId,
      source,
      parent,
      signal,
      onProgress: onBytes ? ({ bytesDone }) => onBytes(bytesDone) : undefined,
    });
  } finally {
    await source.close();
  }
}

/** Restore into `path` and return the restored file's sha256. */
async function restoreFile(engine: BackupEngine, location: Location, path: string): Promise<string> {
  const target = await openRestoreFile(path);
  try {
    await engine.restore({ ...location, target });
  } finally {
    await target.close();
  }
  return sha256File(path);
}

function randomBytes(size: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(size);
  let block = createHash('sha256').update(`seed-${seed}`).digest();
  for (let at = 0; at < size; at += block.length) {
    block.copy(out, at);
    block = createHash('sha256').update(block).digest();
  }
  return out;
}

function sha(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Put `data`, as bytes or (with `parts`) as a stream of that many pieces. */
async function put(driver: StorageDriver, container: string, key: string, data: Buffer, parts?: number): Promise<void> {
  const body =
    parts === undefined
      ? data
      : (async function* () {
          const size = Math.ceil(data.length / parts);
          for (let at = 0; at < data.length; at += size) yield data.subarray(at, at + size);
        })();
  await driver.putObject(container, key, body, { length: data.length, sha256: sha(data) });
}

async function drain(body: ObjectBody): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of body) parts.push(Buffer.from(part));
  return Buffer.concat(parts);
}

async function get(driver: StorageDriver, container: string, key: string): Promise<Buffer> {
  return drain(await driver.getObject(container, key));
}

async function list(driver: StorageDriver, container: string, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const key of driver.listObjects(container, prefix)) keys.push(key);
  return keys;
}

async function inParallel<T>(items: readonly T[], limit: number, run: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) await run(items[next++]!);
    }),
  );
}
