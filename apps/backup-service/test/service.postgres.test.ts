/** The service on PostgreSQL: the same flows as on SQLite, against the test cluster. */
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { resolveConfig } from '../src/config/load-config.js';
import { startService, type RunningService } from '../src/service.js';
import { postgresDatabase } from './helpers/databases.js';
import { freePort, tempDir, waitUntil } from './helpers/service-process.js';

const postgres = postgresDatabase();
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

describe.skipIf(postgres.factory === undefined)(`service on PostgreSQL${postgres.skipReason ? ` (skipped: ${postgres.skipReason})` : ''}`, () => {
  async function start(dir: string, databaseUrl: string, extra: Record<string, unknown> = {}): Promise<RunningService> {
    const config = resolveConfig(
      {
        host: 'pg', report_interval: 1, service_down_time: 3, listen: `127.0.0.1:${await freePort()}`, state_path: dir, database_url: databaseUrl,
        backends: [{ name: 'b', driver: 'stowage-driver-example', options: { root: join(dir, 'b') } }], ...extra,
      },
      { baseDir: dir, source: 'test' },
    );
    const service = await startService(config, pino({ level: 'silent' }));
    cleanups.push(() => service.stop());
    await service.initialized;
    return service;
  }

  const call = async (service: RunningService, method: string, url: string, body?: unknown) => {
    const response = await service.app.inject({ method: method as 'GET', url: `/v3/p1${url}`, headers: { 'x-auth-token': 'u:p1' }, ...(body ? { payload: body as object } : {}) });
    return { status: response.statusCode, body: response.body ? response.json() : null };
  };

  it('creates and deletes a backup, shows the service up, and cleans up after a restart', async () => {
    const dir = await tempDir('pg-service');
    cleanups.push(dir.remove);
    const url = await postgres.factory!(dir.path);
    let service = await start(dir.path, url);
    const volume = (await call(service, 'POST', '/volumes', { volume: { size: 1 } })).body.volume;
    await waitUntil('volume', async () => (await call(service, 'GET', `/volumes/${volume.id}`)).body.volume.status === 'available');
    const backup = (await call(service, 'POST', '/backups', { backup: { volume_id: volume.id } })).body.backup;
    await waitUntil('backup', async () => (await call(service, 'GET', `/backups/${backup.id}`)).body.backup.status === 'available');
    expect((await call(service, 'GET', '/os-services')).body.services[0]).toMatchObject({ host: 'pg@b', state: 'up' });

    // A crash mid-create, then a restart on the same database.
    await service.store.updateBackup(backup.id, { status: 'creating' });
    await service.store.transitionVolume(volume.id, ['available'], { status: 'backing-up', previous_status: 'available' });
    await service.stop();
    service = await start(dir.path, url);
    expect(await service.store.getBackup(backup.id)).toMatchObject({ status: 'error', fail_reason: 'incomplete backup reset on manager restart' });
    expect((await service.store.getVolume(volume.id))?.status).toBe('available');
    expect((await call(service, 'DELETE', `/backups/${backup.id}`)).status).toBe(202);
    await waitUntil('deleted', async () => (await call(service, 'GET', `/backups/${backup.id}`)).status === 404);
  });

  it('restore, update, sorted paging, export/import and quotas run on PostgreSQL too', async () => {
    const dir = await tempDir('pg-api');
    cleanups.push(dir.remove);
    const url = await postgres.factory!(dir.path);
    const service = await start(dir.path, url, { quota_backups: 2 });
    const volume = (await call(service, 'POST', '/volumes', { volume: { size: 1 } })).body.volume;
    await waitUntil('volume', async () => (await call(service, 'GET', `/volumes/${volume.id}`)).body.volume.status === 'available');
    const backup = (await call(service, 'POST', '/backups', { backup: { volume_id: volume.id, name: 'b' } })).body.backup;
    await waitUntil('backup', async () => (await call(service, 'GET', `/backups/${backup.id}`)).body.backup.status === 'available');
    await waitUntil('volume back', async () => (await call(service, 'GET', `/volumes/${volume.id}`)).body.volume.status === 'available');
    const restore = (await call(service, 'POST', `/backups/${backup.id}/restore`, { restore: {} })).body.restore;
    await waitUntil('restored', async () => (await call(service, 'GET', `/volumes/${restore.volume_id}`)).body.volume.status === 'available');
    const page = (await call(service, 'GET', '/backups?sort=name:asc&limit=1')).body;
    expect(page.backups_links[0].href).toContain(`marker=${backup.id}`);
    const record = (await call(service, 'GET', `/backups/${backup.id}/export_record`)).body['backup-record'];
    const copy = { ...JSON.parse(Buffer.from(record.backup_url, 'base64').toString()), id: crypto.randomUUID() };
    const imported = await call(service, 'POST', '/backups/import_record', { 'backup-record': { ...record, backup_url: Buffer.from(JSON.stringify(copy)).toString('base64') } });
    expect(imported.status).toBe(201);
    await waitUntil('imported', async () => (await call(service, 'GET', `/backups/${copy.id}`)).body.backup.status === 'available');
    const over = await call(service, 'POST', '/backups', { backup: { volume_id: volume.id } });
    expect(over.status).toBe(413);
    expect(await service.store.backupUsage('p1')).toEqual({ backups: 2, gigabytes: 2 });
    expect((await call(service, 'DELETE', `/backups/${copy.id}`)).status).toBe(202);
    await waitUntil('copy deleted', async () => (await call(service, 'GET', `/backups/${copy.id}`)).status === 404);
    // The original still restores: the copy's delete kept the shared objects.
    const again = (await call(service, 'POST', `/backups/${backup.id}/restore`, { restore: {} })).body.restore;
    await waitUntil('restored again', async () => (await call(service, 'GET', `/volumes/${again.volume_id}`)).body.volume.status === 'available');
  });
});
