/**
 * The manager, scheduler and API in one process (fast, deterministic host choice): reschedule when storage is
 * unreachable, the fail_reason when no host is left, start-up cleanup (reference 1.7), and shutdown.
 */
import { writeFile, rm, open } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { resolveConfig } from '../src/config/load-config.js';
import { openDatabase } from '../src/db/connect.js';
import { INCOMPLETE_BACKUP_REASON } from '../src/operations/recovery.js';
import { startService, type RunningService } from '../src/service.js';
import { freePort, tempDir, waitUntil } from './helpers/service-process.js';

const silent = pino({ level: 'silent' });
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

async function start(dir: string, raw: Record<string, unknown>, pickHost?: (hosts: readonly string[]) => string): Promise<RunningService> {
  const port = await freePort();
  const config = resolveConfig(
    { host: 'node1', report_interval: 1, service_down_time: 3, periodic_interval: 1, backup_periodic_initialization: true, listen: `127.0.0.1:${port}`, state_path: dir, ...raw },
    { baseDir: dir, source: 'test' },
  );
  const service = await startService(config, silent, { pickHost });
  cleanups.push(() => service.stop());
  await service.initialized;
  return service;
}

/**
 * Two example backends, a and b; the scheduler prefers a. a's setup fails while `marker` exists (touch it to take
 * a's storage away).
 */
async function startBackendsAB(prefix: string) {
  const dir = await tempDir(prefix);
  cleanups.push(dir.remove);
  const marker = join(dir.path, 'a-is-down');
  const service = await start(
    dir.path,
    {
      backends: [
        { name: 'a', driver: 'stowage-driver-example', options: { root: join(dir.path, 'a'), fail_setup_while_exists: marker } },
        { name: 'b', driver: 'stowage-driver-example', options: { root: join(dir.path, 'b') } },
      ],
    },
    (hosts) => (hosts.includes('node1@a') ? 'node1@a' : hosts[0]!),
  );
  return { marker, service };
}

async function call(service: RunningService, method: string, path: string, body?: unknown) {
  const response = await service.app.inject({
    method: method as 'GET',
    url: `/v3/p1${path}`,
    headers: { 'x-auth-token': 'u1:p1', 'openstack-api-version': 'volume 3.70' },
    ...(body === undefined ? {} : { payload: body as object }),
  });
  return { status: response.statusCode, body: response.body ? response.json() : null };
}

async function createVolume(service: RunningService, sizeGiB = 1): Promise<string> {
  const { status, body } = await call(service, 'POST', '/volumes', { volume: { size: sizeGiB, name: 'v' } });
  expect(status).toBe(202);
  const id = body.volume.id as string;
  await waitUntil('volume available', async () => (await call(service, 'GET', `/volumes/${id}`)).body.volume.status === 'available');
  return id;
}

async function backupWhenSettled(service: RunningService, id: string) {
  return waitUntil('backup settled', async () => {
    const { body } = await call(service, 'GET', `/backups/${id}`);
    return ['available', 'error'].includes(body.backup.status) ? body.backup : undefined;
  });
}

describe('scheduling with unreachable storage', () => {
  it('marks the backend not working and reschedules to another backend; with none left, error says what was tried', async () => {
    const { marker, service } = await startBackendsAB('resched');
    const volumeId = await createVolume(service);

    // 1. a's storage goes away after a successful setup; b is disabled: nothing is left.
    await writeFile(marker, '');
    await service.store.db.updateTable('services').set({ disabled: 1 }).where('host', '=', 'node1@b').execute();
    const first = await call(service, 'POST', '/backups', { backup: { volume_id: volumeId, name: 'x' } });
    expect(first.status).toBe(202);
    const failed = await backupWhenSettled(service, first.body.backup.id);
    expect(failed.status).toBe('error');
    expect(failed.fail_reason).toMatch(/Tried: node1@a \(storage unreachable: backend a: storage is down while .*a-is-down exists\)/);
    expect(failed.fail_reason).toMatch(/No other cinder-backup service is up and enabled in availability zone nova/);
    const row = await service.store.getBackup(first.body.backup.id);
    expect(row).toMatchObject({ host: null, service: null });
    expect((await call(service, 'GET', `/volumes/${volumeId}`)).body.volume.status).toBe('available');
    const states = (await call(service, 'GET', '/os-services')).body.services;
    expect(states.find((s: { host: string }) => s.host === 'node1@a')).toMatchObject({ state: 'down', backend_state: 'down' });

    // 2. a comes back (periodic setup), b is enabled, a's storage fails again: the backup lands on b.
    await service.store.db.updateTable('services').set({ disabled: 0 }).where('host', '=', 'node1@b').execute();
    await rm(marker);
    await waitUntil('a back up', async () => service.manager.serves('node1@a'), 5000);
    await writeFile(marker, '');
    const second = await call(service, 'POST', '/backups', { backup: { volume_id: volumeId } });
    const done = await backupWhenSettled(service, second.body.backup.id);
    expect(done.status).toBe('available');
    const stored = await service.store.getBackup(second.body.backup.id);
    expect(stored).toMatchObject({ host: 'node1@b', backend_name: 'b', service: 'example' });
    expect(JSON.parse(stored!.scheduling_attempts)).toEqual([{ host: 'node1@a', reason: expect.stringMatching(/^storage unreachable/) }]);
  });

  it('an incremental stays on its parent backend name', async () => {
    const { marker, service } = await startBackendsAB('incr');
    const volumeId = await createVolume(service);
    const full = await call(service, 'POST', '/backups', { backup: { volume_id: volumeId } });
    expect((await backupWhenSettled(service, full.body.backup.id)).status).toBe('available');
    await writeFile(marker, '');
    const incremental = await call(service, 'POST', '/backups', { backup: { volume_id: volumeId, incremental: true } });
    const failed = await backupWhenSettled(service, incremental.body.backup.id);
    expect(failed.status).toBe('error');
    expect(failed.fail_reason).toMatch(/with backend name a \(the parent backup's\)/);
    expect(failed.is_incremental).toBe(true);
  });
});

describe('start-up cleanup (reference 1.7)', () => {
  it('resets creating, restoring and deleting backups of this host and their volumes', async () => {
    const dir = await tempDir('cleanup');
    cleanups.push(dir.remove);
    const backends = [{ name: 'b', driver: 'stowage-driver-example', options: { root: join(dir.path, 'b') } }];
    // A first run registers the service and gives us a real backup to leave in `deleting`.
    let service = await start(dir.path, { backends });
    const volumeId = await createVolume(service);
    const restoreTarget = await createVolume(service);
    const made = await call(service, 'POST', '/backups', { backup: { volume_id: volumeId } });
    const kept = await backupWhenSettled(service, made.body.backup.id);
    expect(kept.status).toBe('available');
    await service.stop();

    // Simulate a crash mid-operation: rows as a dying process would leave them.
    const { db, close } = await openDatabase(`sqlite:${join(dir.path, 'stowage.sqlite')}`);
    const base = (await db.selectFrom('backups').selectAll().where('id', '=', made.body.backup.id).executeTakeFirstOrThrow());
    const now = new Date().toISOString();
    await db.updateTable('backups').set({ status: 'deleting' }).where('id', '=', base.id).execute();
    // Each synthetic row has its own prefix: rows sharing one are an imported copy, whose delete keeps the data.
    await db.insertInto('backups').values({ ...base, id: 'creating-1', status: 'creating', service: 'example', created_at: now, service_metadata: 'volume_x/backup_c/' }).execute();
    await db.insertInto('backups').values({ ...base, id: 'restoring-1', status: 'restoring', restore_volume_id: restoreTarget, service_metadata: 'volume_x/backup_r/' }).execute();
    await db.insertInto('backups').values({ ...base, id: 'deleting-encrypted', status: 'deleting', encryption_key_id: 'k1', service_metadata: 'volume_x/backup_y/' }).execute();
    await db.insertInto('backups').values({ ...base, id: 'other-host', status: 'creating', host: 'node2@b', service_metadata: 'volume_x/backup_o/' }).execute();
    await db.updateTable('volumes').set({ status: 'backing-up', previous_status: 'available' }).where('id', '=', volumeId).execute();
    await db.updateTable('volumes').set({ status: 'restoring-backup', previous_status: 'available' }).where('id', '=', restoreTarget).execute();
    await close();

    service = await start(dir.path, { backends });
    const creating = await service.store.getBackup('creating-1');
    expect(creating).toMatchObject({ status: 'error', fail_reason: INCOMPLETE_BACKUP_REASON });
    expect((await service.store.getVolume(volumeId))?.status).toBe('available');
    expect((await service.store.getBackup('restoring-1'))?.status).toBe('available');
    expect((await service.store.getVolume(restoreTarget))?.status).toBe('error_restoring');
    expect((await service.store.getBackup('deleting-encrypted'))?.status).toBe('error_deleting');
    expect((await service.store.getBackup('other-host'))?.status).toBe('creating');
    // The interrupted delete resumes once the driver is set up, and removes the data.
    await waitUntil('delete resumed', async () => (await service.store.getBackup(base.id)) === undefined, 5000);
    const leftovers: string[] = [];
    const store = service.manager.backends.get('node1@b')!.driver;
    for await (const key of store.listObjects('backups', base.service_metadata!)) leftovers.push(key);
    expect(leftovers).toEqual([]);
  });
});

describe('shutdown', () => {
  it('aborts a running backup cleanly: backup error with a reason, volume back to available, no partial data', async () => {
    const dir = await tempDir('stop');
    cleanups.push(dir.remove);
    const service = await start(dir.path, {
      shutdown_grace_period: 0,
      backends: [{ name: 'b', driver: 'stowage-driver-example', options: { root: join(dir.path, 'b') } }],
    });
    const volumeId = await createVolume(service, 2);
    // Random data makes the backup slow enough to interrupt.
    const volume = (await service.store.getVolume(volumeId))!;
    const handle = await open(volume.path, 'r+');
    const chunk = Buffer.alloc(8 * 1024 * 1024);
    for (let offset = 0; offset < 256 * 1024 * 1024; offset += chunk.length) {
      crypto.getRandomValues(new Uint8Array(chunk.buffer, 0, 65536));
      chunk.copy(chunk, 65536, 0, chunk.length - 65536);
      await handle.write(chunk, 0, chunk.length, offset);
    }
    await handle.close();
    const made = await call(service, 'POST', '/backups', { backup: { volume_id: volumeId } });
    const id = made.body.backup.id as string;
    await waitUntil('backup running', async () => (await service.store.getBackup(id))?.service === 'example', 5000, 10);
    await service.stop();
    const { db, close } = await openDatabase(`sqlite:${join(dir.path, 'stowage.sqlite')}`);
    const row = await db.selectFrom('backups').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
    const vol = await db.selectFrom('volumes').selectAll().where('id', '=', volumeId).executeTakeFirstOrThrow();
    await close();
    expect(row.status).toBe('error');
    expect(row.fail_reason).toMatch(/stopped while the backup was running/);
    expect(vol.status).toBe('available');
    const { readdir } = await import('node:fs/promises');
    const leftovers = await readdir(join(dir.path, 'b', 'backups'), { recursive: true }).catch(() => []);
    expect(leftovers.filter((name) => String(name).includes(id) && !String(name).endsWith(id))).toEqual([]);
  }, 60_000);
});

describe('backup_max_operations', () => {
  it('bounds concurrent creates (Cinder bounded only restores)', async () => {
    const dir = await tempDir('maxops');
    cleanups.push(dir.remove);
    const service = await start(dir.path, {
      backup_max_operations: 1,
      backends: [{ name: 'b', driver: 'stowage-driver-example', options: { root: join(dir.path, 'b') } }],
    });
    const volumes = [await createVolume(service), await createVolume(service)];
    const ids: string[] = [];
    for (const volumeId of volumes) ids.push((await call(service, 'POST', '/backups', { backup: { volume_id: volumeId } })).body.backup.id);
    let peak = 0;
    await waitUntil(
      'all available',
      async () => {
        // A create past the limiter has its service set; only one may be between that and `available`.
        const rows = await Promise.all(ids.map((id) => service.store.getBackup(id)));
        peak = Math.max(peak, rows.filter((row) => row?.status === 'creating' && row.service !== null).length);
        return rows.every((row) => row?.status === 'available');
      },
      30_000,
      5,
    );
    expect(peak).toBe(1);
  });
});
