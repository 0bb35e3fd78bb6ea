import { mkdir, mkdtemp, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import posixDriver, { posixOptionsSchema } from '../src/index.js';

const dir = await mkdtemp(join(tmpdir(), 'stowage-posix-sweep-'));
afterAll(() => rm(dir, { recursive: true, force: true }));
const context = { backendName: 'posix-sweep', statePath: dir };
const twoHoursAgo = new Date(Date.now() - 2 * 3600 * 1000);

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

describe('posix doSetup sweeps what crashed writes left', () => {
  it('removes a stale temp file and the empty fan-out folders, keeps a fresh temp file and stored objects', async () => {
    const root = join(dir, 'store');
    const store = posixDriver.create({ path: root, create_path: true, container: 'backups', fsync: false }, context);
    await store.doSetup();
    await store.putObject('backups', 'volume_v/backup_b/chunk-000001', Buffer.from('kept'), { length: 4 });

    // A write that crashed two hours ago: its temp file, alone in its fan-out folder of a backup folder.
    const crashedFolder = join(root, 'backups', 'volume_v', 'backup_crashed', '@ab');
    await mkdir(crashedFolder, { recursive: true });
    const crashed = join(crashedFolder, '.stowage-tmp-0123456789ab');
    await writeFile(crashed, 'partial');
    // A write of another container by another host, still going: written just now.
    const liveFolder = join(root, 'other', 'volume_w', 'backup_live', '@cd');
    await mkdir(liveFolder, { recursive: true });
    const live = join(liveFolder, '.stowage-tmp-ba9876543210');
    await writeFile(live, 'in progress');
    // An empty fan-out folder of a fresh write that has not opened its temp file yet.
    const freshEmpty = join(root, 'backups', 'volume_v', 'backup_b', '@ef');
    await mkdir(freshEmpty);
    // A probe left at the root by a setup that crashed.
    const probe = join(root, '.stowage-tmp-probe-dead');
    await writeFile(probe, 'probe');
    for (const path of [crashed, crashedFolder, join(root, 'backups', 'volume_v', 'backup_crashed'), probe]) {
      await utimes(path, twoHoursAgo, twoHoursAgo);
    }

    await posixDriver.create({ path: root, create_path: true, container: 'backups', fsync: false }, context).doSetup();

    expect(await exists(crashed)).toBe(false);
    expect(await exists(join(root, 'backups', 'volume_v', 'backup_crashed'))).toBe(false);
    expect(await exists(probe)).toBe(false);
    expect(await exists(live)).toBe(true);
    expect(await exists(freshEmpty)).toBe(true);
    expect((await readdir(join(root, 'backups', 'volume_v'))).sort()).toEqual(['backup_b']);
    const keys: string[] = [];
    for await (const key of store.listObjects('backups', 'volume_v/')) keys.push(key);
    expect(keys).toEqual(['volume_v/backup_b/chunk-000001']);
  });

  it('honours stale_temp_after_seconds and refuses a threshold a live write could outlast', async () => {
    const root = join(dir, 'threshold');
    await mkdir(join(root, 'backups', '@01'), { recursive: true });
    const temp = join(root, 'backups', '@01', '.stowage-tmp-aaaaaaaaaaaa');
    await writeFile(temp, 'x');
    const tenMinutesAgo = new Date(Date.now() - 600 * 1000);
    await utimes(temp, tenMinutesAgo, tenMinutesAgo);
    const options = { path: root, create_path: true, container: 'backups', fsync: false };
    await posixDriver.create(options, context).doSetup();
    expect(await exists(temp)).toBe(true);
    await posixDriver.create({ ...options, stale_temp_after_seconds: 300 }, context).doSetup();
    expect(await exists(temp)).toBe(false);
    expect(posixOptionsSchema.safeParse({ path: root, stale_temp_after_seconds: 5 }).success).toBe(false);
  });
});
