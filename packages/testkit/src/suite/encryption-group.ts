import {
  AuthenticationFailedError,
  BACKUP_FORMAT_V3_ENCRYPTED,
  BackupEngine,
  defaultBackupPrefix,
  EncryptionKeyError,
  openRestoreFile,
  openVolumeFile,
  type ObjectEncryption,
  type StowageError,
} from '@stowage/core';
import { randomBytes, randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sha256File } from '../volume-files.js';
import { getBytes, listKeys, MiB, putBytes, seededBytes, type Location } from './helpers.js';
import type { SuiteContext } from './suite-context.js';

/** A data key as the service would hand the engine one. */
export function testDataKey(keyId = randomUUID()): ObjectEncryption {
  return { keyId, key: randomBytes(32) };
}

/**
 * Client-side encryption on the driver's real server: nothing readable at rest (every stored object read back raw),
 * every object bound to its backup, project (key) and position, and keys that are missing or wrong refused.
 */
export function encryptionGroup(ctx: SuiteContext): void {
  const { driver, container, workDir } = ctx;
  const chunkSize = 2 * MiB;
  const engine = () => new BackupEngine({ driver: driver(), backendName: ctx.name, chunkSize });
  const locationOf = (volumeId: string) => ({ container: container(), prefix: defaultBackupPrefix(volumeId, randomUUID()) });

  const backup = async (path: string, location: Location, volumeId: string, encryption: ObjectEncryption, parent?: Location, extra?: Record<string, unknown>) => {
    const source = await openVolumeFile(path);
    try {
      const backupId = location.prefix.split('/')[1]!.replace('backup_', '');
      return await engine().backup({ ...location, backupId, volumeId, source, parent, encryption, extra });
    } finally {
      await source.close();
    }
  };
  const restore = async (location: Location, path: string, encryption: ObjectEncryption | undefined) => {
    const target = await openRestoreFile(path);
    try {
      await engine().restore({ ...location, target, encryption });
    } finally {
      await target.close();
    }
    return sha256File(path);
  };
  const failure = (promise: Promise<unknown>) => promise.then(() => undefined, (thrown: unknown) => thrown as StowageError);

  describe('encryption', () => {
    it('stores no plaintext: a marker written all over the volume is in none of the stored objects, and the restore is byte-identical', async () => {
      const marker = `STOWAGE-PLAINTEXT-MARKER-${randomUUID()}`;
      const text = Buffer.from(`${marker} `.repeat(Math.ceil((3 * MiB) / (marker.length + 1)))).subarray(0, 3 * MiB);
      const path = join(workDir(), 'volume-marker');
      // Compressible text with the marker, random bytes, the marker again in the last (short) region.
      await writeFile(path, Buffer.concat([text, seededBytes(2 * MiB, 7), text.subarray(0, MiB + 4321)]));
      const key = testDataKey();
      const volumeId = randomUUID();
      const full = locationOf(volumeId);
      const fullResult = await backup(path, full, volumeId, key, undefined, { note: marker });
      expect(fullResult.metadata.format).toBe(BACKUP_FORMAT_V3_ENCRYPTED);
      // An incremental of an encrypted backup is encrypted, with its parent's key.
      const changed = Buffer.from(text);
      changed.write(`changed ${marker}`, MiB + 17);
      await writeFile(path, Buffer.concat([changed, seededBytes(2 * MiB, 7), text.subarray(0, MiB + 4321)]));
      const incremental = locationOf(volumeId);
      const incrementalResult = await backup(path, incremental, volumeId, key, full);
      expect(incrementalResult.metadata.encryption?.keyId).toBe(key.keyId);

      const needles = [Buffer.from(marker), Buffer.from(marker.slice(0, 16)), Buffer.from(`"note"`), Buffer.from('"objects"')];
      let objects = 0;
      for (const location of [full, incremental]) {
        for (const name of await listKeys(driver(), container(), location.prefix)) {
          const raw = await getBytes(driver(), container(), name);
          objects += 1;
          for (const needle of needles) expect(raw.includes(needle), `${name} holds ${needle.toString()}`).toBe(false);
        }
      }
      expect(objects).toBeGreaterThanOrEqual(8);
      expect(await restore(incremental, join(workDir(), 'restored-marker'), key)).toBe(await sha256File(path));
    });

    it('refuses a chunk swapped between two backups, two projects or two positions with an authentication error naming the object', async () => {
      // Random bytes: every chunk is stored whole, so swapped objects have the recorded lengths and only the seal tells.
      const path = join(workDir(), 'volume-swap');
      await writeFile(path, seededBytes(3 * chunkSize, 11));
      const projectA = testDataKey();
      const projectB = testDataKey();
      const volumeId = randomUUID();
      const first = locationOf(volumeId);
      const second = locationOf(volumeId);
      const otherProject = locationOf(randomUUID());
      await backup(path, first, volumeId, projectA);
      await backup(path, second, volumeId, projectA);
      await backup(path, otherProject, volumeId, projectB);
      const chunk = (location: Location, index: number) => `${location.prefix}chunk-${String(index).padStart(6, '0')}`;
      const swap = async (a: string, b: string) => {
        const [bytesA, bytesB] = [await getBytes(driver(), container(), a), await getBytes(driver(), container(), b)];
        expect(bytesA.length).toBe(bytesB.length);
        await putBytes(driver(), container(), a, bytesB);
        await putBytes(driver(), container(), b, bytesA);
      };
      const expectAuthFailure = async (location: Location, key: ObjectEncryption, object: string) => {
        const error = await failure(restore(location, join(workDir(), 'restored-swap'), key));
        expect(AuthenticationFailedError.isInstance(error), `expected AuthenticationFailedError, got ${String(error)}`).toBe(true);
        expect(error!.object).toBe(object);
        expect(error!.message).toContain(object);
      };
      const original = await sha256File(path);
      expect(await restore(first, join(workDir(), 'restored-swap'), projectA)).toBe(original);

      await swap(chunk(first, 2), chunk(second, 2)); // two backups of one volume, same position, same key
      await expectAuthFailure(first, projectA, chunk(first, 2));
      await expectAuthFailure(second, projectA, chunk(second, 2));
      await swap(chunk(first, 2), chunk(second, 2));
      expect(await restore(second, join(workDir(), 'restored-swap'), projectA)).toBe(original);

      await swap(chunk(first, 1), chunk(otherProject, 1)); // two projects: another key
      await expectAuthFailure(first, projectA, chunk(first, 1));
      await expectAuthFailure(otherProject, projectB, chunk(otherProject, 1));
      await swap(chunk(first, 1), chunk(otherProject, 1));

      await swap(chunk(first, 1), chunk(first, 3)); // two positions of one backup
      const error = await failure(restore(first, join(workDir(), 'restored-swap'), projectA));
      expect(AuthenticationFailedError.isInstance(error), String(error)).toBe(true);
      expect([chunk(first, 1), chunk(first, 3)]).toContain(error!.object);
      await swap(chunk(first, 1), chunk(first, 3));
      expect(await restore(first, join(workDir(), 'restored-swap'), projectA)).toBe(original);
    });

    it('needs the key it was written with: none or another key id is an EncryptionKeyError naming the key, a wrong key fails authentication', async () => {
      const path = join(workDir(), 'volume-keys');
      await writeFile(path, seededBytes(MiB + 5, 13));
      const key = testDataKey();
      const location = locationOf(randomUUID());
      await backup(path, location, 'keys-volume', key);
      const target = join(workDir(), 'restored-keys');
      for (const given of [undefined, testDataKey()]) {
        const error = await failure(restore(location, target, given));
        expect(EncryptionKeyError.isInstance(error), String(error)).toBe(true);
        expect((error as EncryptionKeyError).keyId).toBe(key.keyId);
        expect(error!.message).toContain(key.keyId);
      }
      const wrong = await failure(restore(location, target, { keyId: key.keyId, key: randomBytes(32) }));
      expect(AuthenticationFailedError.isInstance(wrong), String(wrong)).toBe(true);
      expect(wrong!.object).toBe(`${location.prefix}metadata`);
      // Deleting needs no key: an encrypted backup whose key is lost can still be removed.
      await engine().delete(location);
      expect(await listKeys(driver(), container(), location.prefix)).toEqual([]);
    });
  });
}
