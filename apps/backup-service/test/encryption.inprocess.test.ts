/**
 * Client-side encryption in the service: the `encryption` block's validation, project data keys stored wrapped on
 * the backend, encryption_key_id at 3.64, nothing readable on the storage, `stowage keys rotate`, and what a wrong,
 * missing or retired master key does (docs/encryption.md).
 */
import { randomBytes } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError, EncryptionKeyError } from '@stowage/core';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { resolveConfig } from '../src/config/load-config.js';
import { loadMasterKeys, masterKeyId } from '../src/encryption/master-keys.js';
import { ProjectKeyStore } from '../src/encryption/project-keys.js';
import { rotateBackendKeys } from '../src/encryption/rotate-keys.js';
import { startService, type RunningService } from '../src/service.js';
import { freePort, tempDir, waitUntil } from './helpers/service-process.js';

const silent = pino({ level: 'silent' });
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

const MiB = 1024 * 1024;

function configFor(dir: string, encryption: Record<string, unknown> | undefined, port = 8776) {
  return resolveConfig(
    {
      host: 'node1',
      listen: `127.0.0.1:${port}`,
      state_path: dir,
      backends: [{ name: 'enc', driver: '@stowage/driver-posix', options: { path: join(dir, 'storage') }, ...(encryption ? { encryption } : {}) }],
    },
    { baseDir: dir, source: 'test' },
  );
}

async function start(dir: string, encryption: Record<string, unknown> | undefined): Promise<RunningService> {
  const service = await startService(configFor(dir, encryption, await freePort()), silent);
  cleanups.push(() => service.stop());
  await service.initialized;
  return service;
}

async function call(service: RunningService, method: string, path: string, body?: unknown, version = '3.70') {
  const response = await service.app.inject({
    method: method as 'GET',
    url: `/v3/p1${path}`,
    headers: { 'x-auth-token': 'u1:p1', 'openstack-api-version': `volume ${version}` },
    ...(body === undefined ? {} : { payload: body as object }),
  });
  return { status: response.statusCode, body: response.body ? response.json() : null };
}

async function settled(service: RunningService, kind: 'backups' | 'volumes', id: string, wanted: readonly string[]) {
  const key = kind === 'backups' ? 'backup' : 'volume';
  return waitUntil(`${key} ${id} settled`, async () => {
    const { body } = await call(service, 'GET', `/${kind}/${id}`);
    return wanted.includes(body[key].status) ? body[key] : undefined;
  }, 30_000);
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((entry) => entry.isFile()).map((entry) => join(entry.parentPath, entry.name));
}

describe('the encryption block', () => {
  it('needs exactly one key source, names the field, and never echoes the key', async () => {
    const dir = await tempDir('enc-config');
    cleanups.push(dir.remove);
    const bad = (encryption: Record<string, unknown>) => {
      try {
        configFor(dir.path, encryption);
      } catch (error) {
        expect(ConfigError.isInstance(error)).toBe(true);
        return (error as Error).message;
      }
      throw new Error('accepted');
    };
    expect(bad({})).toContain('backends[0].encryption: give exactly one of master_key_file');
    expect(bad({ master_key_file: 'a', master_key_env: 'B' })).toContain('backends[0].encryption: give exactly one of');
    expect(bad({ master_key_env: 'STOWAGE_TEST_UNSET_KEY' })).toContain('backends[0].encryption.master_key_env: environment variable STOWAGE_TEST_UNSET_KEY is not set');
    expect(bad({ master_key_file: 'k', extra: 1 })).toMatch(/backends\[0\]\.encryption/);

    const short = join(dir.path, 'short.key');
    const secret = 'c2VjcmV0LWJ1dC10b28tc2hvcnQ=';
    await writeFile(short, secret);
    const error = await loadMasterKeys({ master_key_file: short, previous_master_key_files: [] }, 'backends[0].encryption').then(
      () => new Error('accepted'),
      (e: unknown) => e as Error,
    );
    expect(error.message).toContain('backends[0].encryption.master_key_file');
    expect(error.message).toContain('32 random bytes');
    expect(error.message).not.toContain(secret);

    const raw = randomBytes(32);
    await writeFile(join(dir.path, 'raw.key'), raw);
    await writeFile(join(dir.path, 'b64.key'), `${raw.toString('base64')}\n`);
    process.env.STOWAGE_TEST_MASTER_KEY = raw.toString('base64');
    const fromFile = await loadMasterKeys({ master_key_file: join(dir.path, 'raw.key'), previous_master_key_files: [join(dir.path, 'b64.key')] }, 'x');
    const fromEnv = await loadMasterKeys({ master_key_env: 'STOWAGE_TEST_MASTER_KEY', previous_master_key_files: [] }, 'x');
    delete process.env.STOWAGE_TEST_MASTER_KEY;
    expect(fromFile.current.id).toBe(masterKeyId(raw));
    expect(fromFile.previous[0]!.id).toBe(fromFile.current.id);
    expect(fromEnv.current.id).toBe(fromFile.current.id);
  });
});

describe('an encrypting backend', () => {
  it('backs up with a project data key stored wrapped on the backend, stores no plaintext, restores, and survives a rotation', async () => {
    const dir = await tempDir('enc-service');
    cleanups.push(dir.remove);
    const keyA = join(dir.path, 'master-a.key');
    const keyB = join(dir.path, 'master-b.key');
    await writeFile(keyA, randomBytes(32));
    await writeFile(keyB, randomBytes(32).toString('base64'));
    let service = await start(dir.path, { master_key_file: keyA });

    const created = await call(service, 'POST', '/volumes', { volume: { size: 1, name: 'v' } });
    const volumeId = created.body.volume.id as string;
    await settled(service, 'volumes', volumeId, ['available']);
    const volumePath = (await service.store.getVolume(volumeId))!.path;
    const marker = `SERVICE-MARKER-${randomBytes(8).toString('hex')}`;
    const text = Buffer.from(`${marker}\n`.repeat(Math.ceil((2 * MiB) / (marker.length + 1))));
    const handle = await import('node:fs/promises').then((fs) => fs.open(volumePath, 'r+'));
    await handle.write(text, 0, text.length, 0);
    await handle.write(randomBytes(3 * MiB), 0, 3 * MiB, 64 * MiB);
    await handle.close();

    const full = await call(service, 'POST', '/backups', { backup: { volume_id: volumeId, name: 'full' } });
    expect(full.status).toBe(202);
    const fullId = full.body.backup.id as string;
    const fullRow = await settled(service, 'backups', fullId, ['available', 'error']);
    expect(fullRow.status, fullRow.fail_reason).toBe('available');
    const keyId = fullRow.encryption_key_id as string;
    expect(keyId).toMatch(/^[0-9a-f-]{36}$/);
    expect((await call(service, 'GET', `/backups/${fullId}`, undefined, '3.63')).body.backup.encryption_key_id).toBeUndefined();

    await writeFile(volumePath, Buffer.from(`changed ${marker}`), { flag: 'r+' });
    const incremental = await call(service, 'POST', '/backups', { backup: { volume_id: volumeId, incremental: true } });
    const incrementalId = incremental.body.backup.id as string;
    const incrementalRow = await settled(service, 'backups', incrementalId, ['available', 'error']);
    expect(incrementalRow.status, incrementalRow.fail_reason).toBe('available');
    expect(incrementalRow.encryption_key_id).toBe(keyId);

    // The data key is on the backend, wrapped; neither it, the master key, nor the marker is readable anywhere there.
    const storage = join(dir.path, 'storage');
    const files = await filesUnder(storage);
    const keyObject = files.find((file) => file.includes('stowage-keys/p1/') && file.endsWith(`/${keyId}`));
    expect(keyObject, files.join('\n')).toBeDefined();
    const wrapped = JSON.parse(await readFile(keyObject!, 'utf8'));
    expect(wrapped).toMatchObject({ format: 'stowage.data-key/v1', projectId: 'p1', keyId, masterKeyId: masterKeyId(await readFile(keyA)) });
    const master = await readFile(keyA);
    for (const file of files) {
      const bytes = await readFile(file);
      expect(bytes.includes(Buffer.from(marker)), file).toBe(false);
      expect(bytes.includes(master), file).toBe(false);
    }

    const restoreTo = async (backupId: string) => {
      const answer = await call(service, 'POST', `/backups/${backupId}/restore`, { restore: {} });
      expect(answer.status).toBe(202);
      const volume = await settled(service, 'volumes', answer.body.restore.volume_id, ['available', 'error', 'error_restoring']);
      return { volume, path: (await service.store.getVolume(volume.id))!.path };
    };
    const same = async (path: string) => expect((await readFile(path)).equals(await readFile(volumePath))).toBe(true);
    const restored = await restoreTo(incrementalId);
    expect(restored.volume.status).toBe('available');
    await same(restored.path);

    // Rotation: every data key re-wrapped under B, no backup object touched.
    const before = new Map(await Promise.all(files.filter((f) => !f.includes('stowage-keys')).map(async (f) => [f, (await readFile(f)).toString('base64')] as const)));
    await service.stop();
    const report = await rotateBackendKeys(configFor(dir.path, { master_key_file: keyA }), 'enc', keyB);
    expect(report).toMatchObject({ rewrapped: 1, unchanged: 0, failed: [], newMasterKeyId: masterKeyId(Buffer.from((await readFile(keyB, 'utf8')).trim(), 'base64')) });
    for (const [file, content] of before) expect((await readFile(file)).toString('base64')).toBe(content);
    expect((await rotateBackendKeys(configFor(dir.path, { master_key_file: keyB }), 'enc', keyB)).unchanged).toBe(1);

    // The old key retired: both backups still restore under B alone.
    service = await start(dir.path, { master_key_file: keyB });
    for (const id of [fullId, incrementalId]) expect((await restoreTo(id)).volume.status).toBe('available');
    await service.stop();

    // Under the retired key A alone, or with no encryption configured, a restore fails (the volume error_restoring,
    // the backup still available); the key store names the key needed.
    for (const encryption of [{ master_key_file: keyA }, undefined]) {
      service = await start(dir.path, encryption);
      expect((await restoreTo(fullId)).volume.status).toBe('error_restoring');
      expect((await call(service, 'GET', `/backups/${fullId}`)).body.backup.status).toBe('available');
      await service.stop();
    }
    const runtimeDriver = (await start(dir.path, undefined)).manager.backends.get('node1@enc')!.driver;
    const retired = new ProjectKeyStore(runtimeDriver, 'enc', await loadMasterKeys({ master_key_file: keyA, previous_master_key_files: [] }, 'x'));
    const refused = await retired.key('p1', keyId).then(
      () => new EncryptionKeyError('accepted', undefined),
      (error: unknown) => error as EncryptionKeyError,
    );
    expect(EncryptionKeyError.isInstance(refused)).toBe(true);
    expect(refused.message).toContain(`wrapped by master key ${report.newMasterKeyId}, which is not configured`);
    expect(refused.keyId).toBe(keyId);

    // Deleting needs no key: both backups go, with no encryption configured at all.
    service = (await start(dir.path, undefined));
    for (const id of [incrementalId, fullId]) {
      expect((await call(service, 'DELETE', `/backups/${id}`)).status).toBe(202);
      await waitUntil(`backup ${id} deleted`, async () => (await call(service, 'GET', `/backups/${id}`)).status === 404, 30_000);
    }
    expect((await filesUnder(storage)).filter((file) => file.includes('/backup_'))).toEqual([]);
  });
});
