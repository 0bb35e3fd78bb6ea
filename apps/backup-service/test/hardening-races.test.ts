/**
 * Issue 11, races found by reading: a parent's delete and a new incremental's insert cannot both win, whichever
 * runs first; and a NUL character in any stored string is a 400 before anything changes (PostgreSQL refuses NUL in
 * text, which used to fail the insert after the volume was already `backing-up`). Runs on SQLite and PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresDatabase, sqliteDatabase, type DatabaseFactory } from './helpers/databases.js';
import { startHardened, type HardenedService } from './helpers/hardening-service.js';
import { tempDir, waitUntil } from './helpers/service-process.js';

const postgres = postgresDatabase();
const databases: Array<[string, DatabaseFactory | undefined, string | undefined]> = [
  ['sqlite', sqliteDatabase, undefined],
  ['postgres', postgres.factory, postgres.skipReason],
];

describe.each(databases)('on %s', (_name, factory, skipReason) => {
  let h: HardenedService;
  let dir: { path: string; remove: () => Promise<void> };
  beforeAll(async () => {
    if (!factory) return;
    dir = await tempDir('races');
    h = await startHardened({ database_url: await factory(dir.path), quota_backups: -1, quota_volumes: -1 }, { dir: dir.path });
  });
  afterAll(async () => {
    await h?.stop();
    await dir?.remove();
  });

  async function fullBackup(volume: string): Promise<string> {
    const created = await h.call('member1', 'POST', '/backups', { backup: { volume_id: volume } });
    expect(created.status).toBe(202);
    const id = created.body.backup.id as string;
    await waitUntil('backup available', async () => (await h.call('member1', 'GET', `/backups/${id}`)).body.backup.status === 'available');
    return id;
  }

  it.skipIf(!factory)('a parent delete that counted no children before the child was inserted loses', async () => {
    void skipReason;
    const volume = await h.volume('member1');
    const parent = await fullBackup(volume);
    const store = h.service.store;
    const countChildren = store.countChildren.bind(store);
    // The delete's count runs just before the incremental's insert lands.
    store.countChildren = async (id: string) => {
      const counted = await countChildren(id);
      store.countChildren = countChildren;
      const child = (await h.call('member1', 'POST', '/backups', { backup: { volume_id: volume, incremental: true } }));
      expect(child.status).toBe(202);
      return counted;
    };
    const deleted = await h.call('member1', 'DELETE', `/backups/${parent}`);
    store.countChildren = countChildren;
    expect(deleted.status).toBe(400);
    expect(deleted.body.badRequest.message).toBe('Invalid backup: Incremental backups exist for this backup.');
    expect((await h.call('member1', 'GET', `/backups/${parent}`)).body.backup.status).toBe('available');
  });

  it.skipIf(!factory)('an incremental whose parent went deleting between its check and its insert is refused', async () => {
    const volume = await h.volume('member1');
    const parent = await fullBackup(volume);
    const store = h.service.store;
    const insertBackup = store.insertBackup.bind(store);
    // A delete of the parent wins just before the child's row is inserted.
    store.insertBackup = async (row) => {
      store.insertBackup = insertBackup;
      await store.updateBackup(parent, { status: 'deleting' }, { status: ['available'] });
      return insertBackup(row);
    };
    const child = await h.call('member1', 'POST', '/backups', { backup: { volume_id: volume, incremental: true } });
    store.insertBackup = insertBackup;
    expect(child.status).toBe(400);
    expect(child.body.badRequest.message).toBe('Invalid backup: The parent backup must be available for incremental backup.');
    expect((await h.call('member1', 'GET', `/volumes/${volume}`)).body.volume.status).toBe('available');
    const listed = (await h.call('member1', 'GET', `/backups?volume_id=${volume}`)).body.backups as Array<{ id: string }>;
    expect(listed.map((backup) => backup.id)).toEqual([parent]);
  });

  it.skipIf(!factory)('a NUL character in any stored string is 400 and changes nothing', async () => {
    const volume = await h.volume('member1');
    const bodies: Array<[string, string, unknown]> = [
      ['POST', '/backups', { backup: { volume_id: volume, name: 'a\u0000b' } }],
      ['POST', '/backups', { backup: { volume_id: volume, description: 'a\u0000b' } }],
      ['POST', '/backups', { backup: { volume_id: volume, metadata: { k: 'a\u0000b' } } }],
      ['POST', '/backups', { backup: { volume_id: volume, metadata: { 'k\u0000': 'v' } } }],
      ['POST', '/volumes', { volume: { size: 1, name: 'a\u0000b' } }],
      ['PUT', `/volumes/${volume}`, { volume: { description: 'a\u0000b' } }],
    ];
    for (const [method, path, body] of bodies) {
      const answer = await h.call('member1', method, path, body);
      expect(answer.status, `${method} ${path} ${JSON.stringify(body)}`).toBe(400);
      expect(answer.body.badRequest.message).toMatch(/contains a NUL character$|\('k\u0000' was unexpected\)$/);
    }
    // Ids and filters in the URL reach queries too.
    for (const path of ['/backups/a%00b', '/volumes/a%00b', '/backups?name=a%00b']) {
      const answer = await h.call('member1', 'GET', path);
      expect(answer.status, path).toBe(400);
      expect(answer.body.badRequest.message).toMatch(/NUL character/);
    }
    expect((await h.call('member1', 'GET', `/volumes/${volume}`)).body.volume).toMatchObject({ status: 'available' });
    expect((await h.call('member1', 'GET', `/backups?volume_id=${volume}`)).body.backups).toEqual([]);
  });
});
