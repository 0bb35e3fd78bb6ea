/**
 * Operations caught mid-flight, with the driver held inside a chunk upload:
 * - os-force_delete of a backup whose create is running: the create is aborted (the upload sees the abort
 *   signal), its volume goes back to `available` and nothing of the backup stays on the backend;
 * - `backup_max_operations: 1`: a restore waits while a create holds the only slot.
 */
import { join } from 'node:path';
import type { StorageDriver } from '@stowage/core';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../src/config/load-config.js';
import { startService, type RunningService } from '../src/service.js';
import { freePort, tempDir, waitUntil } from './helpers/service-process.js';
import { writeRandom } from './helpers/volume-files.js';

let service: RunningService;
let dir: { path: string; remove: () => Promise<void> };
let uploadsHeld = 0;
let holding = true;
const releases: Array<() => void> = [];

function releaseUploads(): void {
  holding = false;
  for (const release of releases.splice(0)) release();
}

/** A driver whose chunk uploads wait, while `holding`, until released or aborted (small objects pass). */
function holdUploads(driver: StorageDriver): StorageDriver {
  return new Proxy(driver, {
    get(target, property) {
      // Bound to the real driver: its private fields are not reachable through the proxy.
      const value = Reflect.get(target, property, target) as unknown;
      if (property !== 'putObject') return typeof value === 'function' ? value.bind(target) : value;
      return async (...args: Parameters<StorageDriver['putObject']>) => {
        const [, key, , options] = args;
        if (holding && /chunk-/.test(key)) {
          uploadsHeld += 1;
          await new Promise<void>((resolve, reject) => {
            releases.push(resolve);
            const signal = options?.signal;
            if (signal?.aborted) reject(signal.reason);
            signal?.addEventListener('abort', () => reject(signal.reason), { once: true });
          });
        }
        return (value as StorageDriver['putObject']).apply(target, args);
      };
    },
  });
}

beforeAll(async () => {
  dir = await tempDir('force');
  const config = resolveConfig(
    { host: 'force', listen: `127.0.0.1:${await freePort()}`, state_path: dir.path, backup_max_operations: 1, backends: [{ name: 'b', driver: 'stowage-driver-example', options: { root: join(dir.path, 'b') } }] },
    { baseDir: dir.path, source: 'test' },
  );
  service = await startService(config, pino({ level: 'silent' }), {
    adjustBackends: (backends) =>
      backends.map((backend) => ({ ...backend, plugin: { ...backend.plugin, create: (options, context) => holdUploads(backend.plugin.create(options, context)) } })),
  });
  await service.initialized;
});

afterAll(async () => {
  await service?.stop();
  await dir?.remove();
});

const call = (method: string, url: string, body?: unknown) =>
  service.app.inject({ method: method as 'GET', url: `/v3/p1${url}`, headers: { 'x-auth-token': 'u1:p1' }, ...(body === undefined ? {} : { payload: body as object }) });

describe('force delete of a running create', () => {
  it('aborts the create, deletes the backup, leaves no objects and the volume available', async () => {
    const volume = (await call('POST', '/volumes', { volume: { size: 1 } })).json().volume;
    await waitUntil('volume', async () => (await call('GET', `/volumes/${volume.id}`)).json().volume.status === 'available');
    await writeRandom((await service.store.getVolume(volume.id))!.path, [0, 512 * 1024 * 1024], 1024 * 1024);
    const backup = (await call('POST', '/backups', { backup: { volume_id: volume.id } })).json().backup;
    await waitUntil('upload held', async () => uploadsHeld > 0, 20_000, 20);
    expect((await call('GET', `/backups/${backup.id}`)).json().backup.status).toBe('creating');
    // Without force a creating backup cannot be deleted.
    expect((await call('DELETE', `/backups/${backup.id}`)).statusCode).toBe(400);

    const forced = await call('POST', `/backups/${backup.id}/action`, { 'os-force_delete': {} });
    expect(forced.statusCode).toBe(202);
    await waitUntil('backup gone', async () => (await call('GET', `/backups/${backup.id}`)).statusCode === 404, 20_000, 50);
    expect((await call('GET', `/volumes/${volume.id}`)).json().volume.status).toBe('available');
    const row = (await service.store.getBackupIncludingDeleted(backup.id))!;
    expect(row.status).toBe('deleted');
    const driver = service.manager.backends.get('force@b')!.driver;
    const leftovers: string[] = [];
    for await (const key of driver.listObjects(row.container!, row.service_metadata!)) leftovers.push(key);
    expect(leftovers).toEqual([]);
    expect(service.manager.runningOperations).toBe(0);
  });

  it('backup_max_operations bounds restores: a restore waits while a create holds the only slot', async () => {
    const createVolume = async () => {
      const volume = (await call('POST', '/volumes', { volume: { size: 1 } })).json().volume;
      await waitUntil('volume', async () => (await call('GET', `/volumes/${volume.id}`)).json().volume.status === 'available');
      await writeRandom((await service.store.getVolume(volume.id))!.path, [0], 1024 * 1024);
      return volume.id as string;
    };
    const first = await createVolume();
    const second = await createVolume();
    holding = false;
    const done = (await call('POST', '/backups', { backup: { volume_id: first } })).json().backup;
    await waitUntil('first backup', async () => (await call('GET', `/backups/${done.id}`)).json().backup.status === 'available', 20_000, 50);

    holding = true;
    const held = uploadsHeld;
    const running = (await call('POST', '/backups', { backup: { volume_id: second } })).json().backup;
    await waitUntil('create holds the slot', async () => uploadsHeld > held, 20_000, 20);
    const restore = await call('POST', `/backups/${done.id}/restore`, { restore: {} });
    expect(restore.statusCode).toBe(202);
    const target = restore.json().restore.volume_id as string;
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect((await call('GET', `/backups/${done.id}`)).json().backup.status).toBe('restoring');
    expect((await call('GET', `/volumes/${target}`)).json().volume.status).toBe('restoring-backup');

    releaseUploads();
    await waitUntil('create done', async () => (await call('GET', `/backups/${running.id}`)).json().backup.status === 'available', 20_000, 50);
    await waitUntil('restore done', async () => (await call('GET', `/volumes/${target}`)).json().volume.status === 'available', 20_000, 50);
    expect((await call('GET', `/backups/${done.id}`)).json().backup.status).toBe('available');
  });
});
