/**
 * Issue 11, item 2: every volume status a backup sets is undone on every path. Queued behind
 * `backup_max_operations: 1` (a create held inside a chunk upload takes the slot): a force-deleted or reset create
 * gives its volume back, a reset restore lets go of its target; and a restart resets the transient volume statuses
 * a crash left behind.
 */
import type { StorageDriver } from '@stowage/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHardened, type HardenedService } from './helpers/hardening-service.js';
import { tempDir, waitUntil } from './helpers/service-process.js';
import { writeRandom } from './helpers/volume-files.js';

let holding = true;
let uploadsHeld = 0;
const releases: Array<() => void> = [];

/** Chunk uploads wait while `holding` (or until aborted); small objects pass. */
function holdUploads(driver: StorageDriver): StorageDriver {
  return new Proxy(driver, {
    get(target, property) {
      const value = Reflect.get(target, property, target) as unknown;
      if (property !== 'putObject') return typeof value === 'function' ? value.bind(target) : value;
      return async (...args: Parameters<StorageDriver['putObject']>) => {
        const [, key, , options] = args;
        if (holding && /chunk-/.test(key)) {
          uploadsHeld += 1;
          await new Promise<void>((resolve, reject) => {
            releases.push(resolve);
            options?.signal?.addEventListener('abort', () => reject(options.signal!.reason), { once: true });
          });
        }
        return (value as StorageDriver['putObject']).apply(target, args);
      };
    },
  });
}

let dir: { path: string; remove: () => Promise<void> };
let h: HardenedService;
beforeAll(async () => {
  dir = await tempDir('volume-statuses');
  h = await startHardened(
    { backup_max_operations: 1, quota_backups: -1 },
    {
      dir: dir.path,
      adjustBackends: (backends) =>
        backends.map((backend) => ({ ...backend, plugin: { ...backend.plugin, create: (options, context) => holdUploads(backend.plugin.create(options, context)) } })),
    },
  );
});
afterAll(async () => {
  holding = false;
  for (const release of releases.splice(0)) release();
  await h?.stop();
  await dir?.remove();
});

const status = async (kind: 'volumes' | 'backups', id: string) => {
  const { status: code, body } = await h.call('admin', 'GET', `/${kind}/${id}`);
  return code === 404 ? 'gone' : (body[kind === 'volumes' ? 'volume' : 'backup'].status as string);
};

async function dataVolume(): Promise<string> {
  const id = await h.volume('admin', 1);
  await writeRandom((await h.service.store.getVolume(id))!.path, [0], 1024 * 1024);
  return id;
}

describe('queued operations give their volumes back', () => {
  let restorable: string;
  it('force delete and reset of a queued create put its volume back', async () => {
    // A backup to restore later, made while nothing is held.
    holding = false;
    const first = await dataVolume();
    restorable = (await h.call('admin', 'POST', '/backups', { backup: { volume_id: first } })).body.backup.id;
    await waitUntil('restorable backup', async () => (await status('backups', restorable)) === 'available', 20_000, 50);

    holding = true;
    const runningVolume = await dataVolume();
    await h.call('admin', 'POST', '/backups', { backup: { volume_id: runningVolume } });
    await waitUntil('create holds the slot', async () => uploadsHeld > 0, 20_000, 20);

    const forcedVolume = await dataVolume();
    const forced = (await h.call('admin', 'POST', '/backups', { backup: { volume_id: forcedVolume } })).body.backup.id;
    const resetVolume = await dataVolume();
    const reset = (await h.call('admin', 'POST', '/backups', { backup: { volume_id: resetVolume } })).body.backup.id;
    await waitUntil('queued creates placed', async () => (await h.service.store.getBackup(reset))?.host !== null && (await h.service.store.getBackup(forced))?.host !== null, 20_000, 20);
    expect(await status('volumes', forcedVolume)).toBe('backing-up');

    expect((await h.call('admin', 'POST', `/backups/${forced}/action`, { 'os-force_delete': {} })).status).toBe(202);
    expect((await h.call('admin', 'POST', `/backups/${reset}/action`, { 'os-reset_status': { status: 'error' } })).status).toBe(202);
    await waitUntil('force-deleted create gave its volume back', async () => (await status('volumes', forcedVolume)) === 'available', 5000, 50);
    await waitUntil('reset create gave its volume back', async () => (await status('volumes', resetVolume)) === 'available', 5000, 50);
  }, 60_000);

  it('reset of a queued restore lets go of its target', async () => {
    const target = await h.volume('admin', 1);
    expect((await h.call('admin', 'POST', `/backups/${restorable}/restore`, { restore: { volume_id: target } })).status).toBe(202);
    expect(await status('volumes', target)).toBe('restoring-backup');
    expect((await h.call('admin', 'POST', `/backups/${restorable}/action`, { 'os-reset_status': { status: 'available' } })).status).toBe(202);
    const after = await status('volumes', target);
    expect(after).toBe('error_restoring');
    // Deletable, not stuck.
    expect((await h.call('admin', 'DELETE', `/volumes/${target}`)).status).toBe(202);
    holding = false;
    for (const release of releases.splice(0)) release();
  }, 60_000);
});

describe('start-up sweep', () => {
  it("resets this host's volumes a crash left creating, extending, deleting, backing-up or restoring-backup", async () => {
    const ids: Record<string, string> = {};
    for (const wanted of ['creating', 'extending', 'deleting', 'backing-up', 'restoring-backup']) {
      ids[wanted] = await h.volume('admin', 1);
      await h.service.store.updateVolume(ids[wanted]!, { status: wanted });
    }
    await h.service.stop();
    h = await startHardened({ backup_max_operations: 1 }, { dir: dir.path });
    expect(await status('volumes', ids.creating!)).toBe('error');
    expect(await status('volumes', ids.extending!)).toBe('error_extending');
    expect(await status('volumes', ids['backing-up']!)).toBe('available');
    expect(await status('volumes', ids['restoring-backup']!)).toBe('error_restoring');
    expect(await status('volumes', ids.deleting!)).toBe('gone');
  }, 60_000);
});
