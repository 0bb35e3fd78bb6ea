import { AbortedError, BackupEngine, ChecksumMismatchError, defaultBackupPrefix, type StorageDriver, type StowageError } from '@stowage/core';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { failingAfterPuts } from '../fault-injection.js';
import { generateVolumeFile, mutateVolumeFile, sha256File } from '../volume-files.js';
import { backupFile, getBytes, listKeys, MiB, putBytes, restoreFile } from './helpers.js';
import type { SuiteContext } from './suite-context.js';

/** Whole backups through core's engine on the driver: what a deployment actually does with it. */
export function engineGroup(ctx: SuiteContext): void {
  const { driver, container, workDir, volumeSize } = ctx;
  const engineFor = (target: StorageDriver) => new BackupEngine({ driver: target, backendName: ctx.name, chunkSize: 2 * MiB });
  const newLocation = () => ({ container: container(), prefix: defaultBackupPrefix(randomUUID(), randomUUID()) });

  describe('engine round trips', () => {
    it('full backup, incremental after 1% changed, restores of both byte-identical', async () => {
      const engine = engineFor(driver());
      const volumePath = join(workDir(), 'volume-a');
      await generateVolumeFile(volumePath, { size: volumeSize, seed: `contract-${ctx.name}`, runSize: MiB });
      const originalSha = await sha256File(volumePath);
      const volumeId = randomUUID();
      const full = { container: container(), prefix: defaultBackupPrefix(volumeId, randomUUID()) };
      const fullResult = await backupFile(engine, volumePath, full, volumeId);
      expect(fullResult.objectCount).toBeGreaterThan(0);
      expect(fullResult.changedBytes).toBeLessThan(volumeSize);

      await mutateVolumeFile(volumePath, { fraction: 0.01, seed: 'contract' });
      const changedSha = await sha256File(volumePath);
      const incremental = { container: container(), prefix: defaultBackupPrefix(volumeId, randomUUID()) };
      const incrementalResult = await backupFile(engine, volumePath, incremental, volumeId, { parent: full });
      expect(incrementalResult.metadata.parent?.prefix).toBe(full.prefix);
      expect(incrementalResult.storedBytes).toBeLessThan(fullResult.storedBytes * 0.1);

      expect(await restoreFile(engine, full, join(workDir(), 'restored-full'))).toBe(originalSha);
      expect(await restoreFile(engine, incremental, join(workDir(), 'restored-incremental'))).toBe(changedSha);
    });

    it('stores nothing for zero regions and restores them as zeros', async () => {
      const engine = engineFor(driver());
      const volumePath = join(workDir(), 'volume-zero');
      await generateVolumeFile(volumePath, { size: 8 * MiB, seed: 'zero', mix: { random: 0, zero: 1, text: 0 } });
      const location = newLocation();
      const result = await backupFile(engine, volumePath, location, 'zero-volume');
      expect(result.objectCount).toBe(0);
      expect(result.changedBytes).toBe(0);
      expect(await restoreFile(engine, location, join(workDir(), 'restored-zero'))).toBe(await sha256File(volumePath));
    });

    it('detects a corrupted chunk at restore with ChecksumMismatchError naming the object', async () => {
      const engine = engineFor(driver());
      const volumePath = join(workDir(), 'volume-corrupt');
      await generateVolumeFile(volumePath, { size: 6 * MiB, seed: 'corrupt', mix: { random: 0.5, zero: 0, text: 0.5 } });
      const location = newLocation();
      const result = await backupFile(engine, volumePath, location, 'corrupt-volume');
      const victim = result.metadata.objects[1] ?? result.metadata.objects[0]!;
      const key = location.prefix + victim.name;
      const stored = await getBytes(driver(), container(), key);
      stored[Math.floor(stored.length / 2)]! ^= 0x01;
      await putBytes(driver(), container(), key, stored);
      const error = await restoreFile(engine, location, join(workDir(), 'restored-corrupt')).then(
        () => undefined,
        (thrown: unknown) => thrown,
      );
      expect(ChecksumMismatchError.isInstance(error), `expected ChecksumMismatchError, got ${String(error)}`).toBe(true);
      expect((error as StowageError).object).toBe(key);
      expect((error as Error).message).toContain(key);
    });

    it('deletes every object of a backup', async () => {
      const engine = engineFor(driver());
      const volumePath = join(workDir(), 'volume-delete');
      await generateVolumeFile(volumePath, { size: 6 * MiB, seed: 'delete' });
      const location = newLocation();
      await backupFile(engine, volumePath, location, 'delete-volume');
      expect((await listKeys(driver(), container(), location.prefix)).length).toBeGreaterThan(2);
      await engine.delete(location);
      expect(await listKeys(driver(), container(), location.prefix)).toEqual([]);
    });

    it('a backup that fails midway leaves no objects behind', async () => {
      const engine = engineFor(failingAfterPuts(driver(), 2));
      const volumePath = join(workDir(), 'volume-fail');
      await generateVolumeFile(volumePath, { size: 12 * MiB, seed: 'fail', mix: { random: 1, zero: 0, text: 0 } });
      const location = newLocation();
      await expect(backupFile(engine, volumePath, location, 'fail-volume')).rejects.toThrow(/injected failure/);
      expect(await listKeys(driver(), container(), location.prefix)).toEqual([]);
    });

    it('a cancelled backup rejects with AbortedError and leaves no objects behind', async () => {
      const engine = engineFor(driver());
      const volumePath = join(workDir(), 'volume-cancel');
      await generateVolumeFile(volumePath, { size: 12 * MiB, seed: 'cancel', mix: { random: 1, zero: 0, text: 0 } });
      const location = newLocation();
      const controller = new AbortController();
      const error = await backupFile(engine, volumePath, location, 'cancel-volume', {
        signal: controller.signal,
        onBytes: (done) => {
          if (done > 0) controller.abort(new Error('operator cancelled'));
        },
      }).then(
        () => undefined,
        (thrown: unknown) => thrown,
      );
      expect(AbortedError.isInstance(error), `expected AbortedError, got ${String(error)}`).toBe(true);
      expect(await listKeys(driver(), container(), location.prefix)).toEqual([]);
    });
  });
}
