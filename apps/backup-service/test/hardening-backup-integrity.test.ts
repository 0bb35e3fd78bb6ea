/**
 * Issue 11 (hardening), through the API of an in-process service on a posix backend: a chain whose members live in
 * different containers restores, stored metadata is checked against the row, and an import's parent must be the
 * caller's.
 */
import { cp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { resolveConfig } from '../src/config/load-config.js';
import { startService, type RunningService } from '../src/service.js';
import { freePort, tempDir, waitUntil } from './helpers/service-process.js';
import { sha256File, writeRandom } from './helpers/volume-files.js';

const MiB = 1024 * 1024;
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

async function startPosixService(name: string): Promise<{ service: RunningService; backupsPath: string }> {
  const dir = await tempDir(`hardening-${name}`);
  cleanups.push(dir.remove);
  const backupsPath = join(dir.path, 'backups');
  const config = resolveConfig(
    {
      host: 'node1',
      listen: `127.0.0.1:${await freePort()}`,
      state_path: dir.path,
      backends: [{ name: 'posix', driver: '@stowage/driver-posix', options: { path: backupsPath, fsync: false } }],
    },
    { baseDir: dir.path, source: 'test' },
  );
  const service = await startService(config, pino({ level: 'silent' }));
  cleanups.push(() => service.stop());
  await service.initialized;
  return { service, backupsPath };
}

/** noauth: the token is `<user>:<project>`. */
async function call(service: RunningService, method: string, path: string, body?: unknown, token = 'u1:p1') {
  const project = token.split(':')[1]!;
  const response = await service.app.inject({
    method: method as 'GET',
    url: `/v3/${project}${path}`,
    headers: { 'x-auth-token': token, 'openstack-api-version': 'volume 3.70' },
    ...(body === undefined ? {} : { payload: body as object }),
  });
  return { status: response.statusCode, body: response.body ? response.json() : null };
}

async function createVolume(service: RunningService, token = 'u1:p1'): Promise<{ id: string; path: string }> {
  const { status, body } = await call(service, 'POST', '/volumes', { volume: { size: 1, name: 'v' } }, token);
  expect(status).toBe(202);
  const id = body.volume.id as string;
  await waitUntil('volume available', async () => (await call(service, 'GET', `/volumes/${id}`, undefined, token)).body.volume.status === 'available');
  return { id, path: (await service.store.getVolume(id))!.path };
}

async function createBackup(service: RunningService, backup: Record<string, unknown>, token = 'u1:p1') {
  const accepted = await call(service, 'POST', '/backups', { backup }, token);
  expect(accepted.status).toBe(202);
  return settled(service, accepted.body.backup.id as string, token);
}

async function settled(service: RunningService, backupId: string, token = 'u1:p1') {
  return waitUntil('backup settled', async () => {
    const { body } = await call(service, 'GET', `/backups/${backupId}`, undefined, token);
    return ['available', 'error'].includes(body.backup.status) && body.backup.restore_volume_id == null ? body.backup : undefined;
  }, 30_000);
}

/** Restore into a new volume; resolves with the new volume once the restore has ended. */
async function restoreIntoNewVolume(service: RunningService, backupId: string) {
  const restore = await call(service, 'POST', `/backups/${backupId}/restore`, { restore: {} });
  expect(restore.status).toBe(202);
  const volumeId = restore.body.restore.volume_id as string;
  const volume = await waitUntil('restore ended', async () => {
    const { body } = await call(service, 'GET', `/volumes/${volumeId}`);
    return ['available', 'error', 'error_restoring'].includes(body.volume.status) ? body.volume : undefined;
  }, 30_000);
  return { volume, path: (await service.store.getVolume(volumeId))!.path };
}

describe('a chain whose members live in different containers (issue 11, item 1)', () => {
  it('restores an incremental in the default container whose full backup is in container x, byte-identical', async () => {
    const { service } = await startPosixService('containers');
    const volume = await createVolume(service);
    await writeRandom(volume.path, [0, 5 * MiB, 300 * MiB], MiB);
    const full = await createBackup(service, { volume_id: volume.id, container: 'x' });
    expect(full).toMatchObject({ status: 'available', container: 'x' });
    await writeRandom(volume.path, [5 * MiB + 4096, 700 * MiB], 256 * 1024);
    const incremental = await createBackup(service, { volume_id: volume.id, incremental: true });
    expect(incremental).toMatchObject({ status: 'available', is_incremental: true, container: 'backups' });

    const restored = await restoreIntoNewVolume(service, incremental.id);
    expect(restored.volume.status).toBe('available');
    expect(await sha256File(restored.path)).toBe(await sha256File(volume.path));
  });
});

function decodeRecord(url: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(url, 'base64').toString('utf8')) as Record<string, unknown>;
}

function encodeRecord(record: Record<string, unknown>): string {
  return Buffer.from(JSON.stringify(record)).toString('base64');
}

async function importRecord(service: RunningService, backupService: string, record: Record<string, unknown>, token = 'u1:p1') {
  return call(service, 'POST', '/backups/import_record', { 'backup-record': { backup_service: backupService, backup_url: encodeRecord(record) } }, token);
}

describe('stored metadata is checked against the row (issue 11, item 6)', () => {
  it('refuses to restore another backup\'s objects copied into a backup\'s prefix, and leaves the target untouched', async () => {
    const { service, backupsPath } = await startPosixService('impostor');
    const volume = await createVolume(service);
    await writeRandom(volume.path, [0], MiB);
    const mine = await createBackup(service, { volume_id: volume.id, name: 'mine' });
    await writeRandom(volume.path, [0], MiB);
    const theirs = await createBackup(service, { volume_id: volume.id, name: 'theirs' });
    const folder = (id: string) => join(backupsPath, 'backups', `volume_${volume.id}`, `backup_${id}`);
    await rm(folder(mine.id), { recursive: true });
    await cp(folder(theirs.id), folder(mine.id), { recursive: true });

    const target = await createVolume(service);
    await writeRandom(target.path, [0], 4096);
    const before = await sha256File(target.path);
    const restore = await call(service, 'POST', `/backups/${mine.id}/restore`, { restore: { volume_id: target.id } });
    expect(restore.status).toBe(202);
    const ended = await waitUntil('restore ended', async () => {
      const { body } = await call(service, 'GET', `/volumes/${target.id}`);
      return body.volume.status === 'restoring-backup' ? undefined : body.volume;
    }, 30_000);
    expect(ended.status).toBe('error_restoring');
    expect(await sha256File(target.path)).toBe(before);
    expect((await settled(service, mine.id)).status).toBe('available');
  });

  it('an import whose size was edited ends error with the reason; an unedited copy under a new id is available', async () => {
    const { service } = await startPosixService('edited-size');
    const volume = await createVolume(service);
    await writeRandom(volume.path, [0], MiB);
    const original = await createBackup(service, { volume_id: volume.id });
    const exported = await call(service, 'GET', `/backups/${original.id}/export_record`);
    expect(exported.status).toBe(200);
    const { backup_service: backupService, backup_url: url } = exported.body['backup-record'];
    const record = decodeRecord(url);

    const edited = await importRecord(service, backupService, { ...record, id: crypto.randomUUID(), size: 2 });
    expect(edited.status).toBe(201);
    const refused = await settled(service, edited.body.backup.id);
    expect(refused.status).toBe('error');
    expect(refused.fail_reason).toMatch(/volume size 1073741824 bytes, the record says 2147483648 bytes/);

    // Tempest's export/import: the same record under a new id shares the data and stays restorable.
    const copy = await importRecord(service, backupService, { ...record, id: crypto.randomUUID() });
    expect(copy.status).toBe(201);
    expect((await settled(service, copy.body.backup.id)).status).toBe('available');
    const restored = await restoreIntoNewVolume(service, copy.body.backup.id);
    expect(restored.volume.status).toBe('available');
    expect(await sha256File(restored.path)).toBe(await sha256File(volume.path));
  });
});

describe('an imported record\'s parent (issue 11, item 7)', () => {
  it('a parent_id of another project\'s backup is dropped: that project can still delete its own backup', async () => {
    const { service } = await startPosixService('import-parent');
    const volume = await createVolume(service);
    await writeRandom(volume.path, [0], MiB);
    const full = await createBackup(service, { volume_id: volume.id });
    await writeRandom(volume.path, [0], 4096);
    const incremental = await createBackup(service, { volume_id: volume.id, incremental: true });
    expect(incremental.is_incremental).toBe(true);
    const exported = await call(service, 'GET', `/backups/${incremental.id}/export_record`);
    const { backup_service: backupService, backup_url: url } = exported.body['backup-record'];

    // An admin of another project imports the incremental's record, naming p1's full backup as its parent.
    const imported = await importRecord(service, backupService, { ...decodeRecord(url), id: crypto.randomUUID(), parent_id: full.id }, 'admin2:p2');
    expect(imported.status).toBe(201);
    const importedBackup = await settled(service, imported.body.backup.id, 'admin2:p2');
    expect(importedBackup.status).toBe('available');
    expect((await service.store.getBackup(imported.body.backup.id))?.parent_id).toBeNull();
    expect((await service.store.getBackup(full.id))?.num_dependent_backups).toBe(1);

    // p1 deletes its incremental, then its full backup: nothing of p2's holds them.
    expect((await call(service, 'DELETE', `/backups/${incremental.id}`)).status).toBe(202);
    await waitUntil('incremental deleted', async () => (await call(service, 'GET', `/backups/${incremental.id}`)).status === 404, 30_000);
    expect((await call(service, 'DELETE', `/backups/${full.id}`)).status).toBe(202);
    await waitUntil('full deleted', async () => (await call(service, 'GET', `/backups/${full.id}`)).status === 404, 30_000);
  });

  it('a parent_id of the caller\'s own backup on the same backend stays linked', async () => {
    const { service } = await startPosixService('import-own-parent');
    const volume = await createVolume(service);
    await writeRandom(volume.path, [0], MiB);
    const full = await createBackup(service, { volume_id: volume.id });
    const exported = await call(service, 'GET', `/backups/${full.id}/export_record`);
    const { backup_service: backupService, backup_url: url } = exported.body['backup-record'];
    const imported = await importRecord(service, backupService, { ...decodeRecord(url), id: crypto.randomUUID(), parent_id: full.id });
    expect(imported.status).toBe(201);
    expect((await settled(service, imported.body.backup.id)).status).toBe('available');
    expect((await service.store.getBackup(imported.body.backup.id))?.parent_id).toBe(full.id);
    expect((await service.store.getBackup(full.id))?.num_dependent_backups).toBe(1);
  });
});
