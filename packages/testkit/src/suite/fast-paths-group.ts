import { BackupEngine, defaultBackupPrefix, NotFoundError, type StorageDriver } from '@stowage/core';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateVolumeFile, sha256File } from '../volume-files.js';
import { backupFile, MiB, putBytes, restoreFile, seededBytes } from './helpers.js';
import type { SuiteContext } from './suite-context.js';

/**
 * The optional `readObjectInto` fast path, run for drivers that implement it: it must read exactly what `getObject`
 * streams, refuse a target that is too small, name a missing object, and give the engine the same restore.
 */
export function fastPathsGroup(ctx: SuiteContext): void {
  const { driver, container, unique } = ctx;
  const readInto = (key: string, target: Uint8Array) => {
    const read = driver().readObjectInto;
    if (read === undefined) throw new Error(`${ctx.name} declares no readObjectInto`);
    return read.call(driver(), container(), key, target);
  };

  describe('fast path: readObjectInto', () => {
    it('reads a whole object into a target of its size, and into a larger one without touching the rest', async () => {
      const key = `${unique('into')}object`;
      const data = seededBytes(1 * MiB + 123, 40);
      await putBytes(driver(), container(), key, data);
      const exact = Buffer.alloc(data.length);
      expect(await readInto(key, exact)).toBe(data.length);
      expect(exact.equals(data)).toBe(true);
      const larger = Buffer.alloc(data.length + 4096, 0xee);
      expect(await readInto(key, larger)).toBe(data.length);
      expect(larger.subarray(0, data.length).equals(data)).toBe(true);
      expect(larger.subarray(data.length).every((byte) => byte === 0xee)).toBe(true);
    });

    it('reads an empty object as 0 bytes', async () => {
      const key = `${unique('into-empty')}object`;
      await putBytes(driver(), container(), key, Buffer.alloc(0));
      expect(await readInto(key, Buffer.alloc(16))).toBe(0);
    });

    it('throws RangeError for a target smaller than the object', async () => {
      const key = `${unique('into-small')}object`;
      await putBytes(driver(), container(), key, seededBytes(10_000, 41));
      await expect(readInto(key, Buffer.alloc(9_999))).rejects.toBeInstanceOf(RangeError);
    });

    it('throws NotFoundError naming a missing object', async () => {
      const key = `${unique('into-missing')}nothing-here`;
      const error = await readInto(key, Buffer.alloc(16)).then(
        () => undefined,
        (thrown: unknown) => thrown,
      );
      expect(NotFoundError.isInstance(error), `expected NotFoundError, got ${String(error)}`).toBe(true);
      expect((error as Error).message).toContain(key);
    });

    it('restores through the fast path exactly as through getObject', async () => {
      const volumePath = join(ctx.workDir(), 'volume-fast-path');
      await generateVolumeFile(volumePath, { size: 8 * MiB, seed: 'fast-path', runSize: MiB });
      const location = { container: container(), prefix: defaultBackupPrefix(randomUUID(), randomUUID()) };
      const engineOn = (target: StorageDriver) => new BackupEngine({ driver: target, backendName: ctx.name, chunkSize: 2 * MiB });
      await backupFile(engineOn(driver()), volumePath, location, 'fast-path-volume');
      const expected = await sha256File(volumePath);
      let streamed = 0;
      // The same driver without its fast path: the engine must fall back to getObject.
      const streamingOnly = new Proxy(driver(), {
        get(target, property) {
          if (property === 'readObjectInto') return undefined;
          if (property === 'getObject') streamed += 1;
          const value: unknown = Reflect.get(target, property);
          return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
        },
      });
      expect(await restoreFile(engineOn(driver()), location, join(ctx.workDir(), 'restored-fast'))).toBe(expected);
      expect(await restoreFile(engineOn(streamingOnly), location, join(ctx.workDir(), 'restored-streamed'))).toBe(expected);
      expect(streamed).toBeGreaterThan(0);
    });
  });
}
