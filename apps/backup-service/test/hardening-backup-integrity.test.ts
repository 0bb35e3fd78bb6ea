/**
 * Issue 11 (hardening), through the API of an in-process service on a posix backend: a chain whose members live in
 * different containers restores, stored metadata is checked against the row, and an import's parent must be the
 * caller's.
 */
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
