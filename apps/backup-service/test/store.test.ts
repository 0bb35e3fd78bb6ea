/** The persistence layer on both databases the service supports. */
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../src/db/connect.js';
import { Store } from '../src/db/store.js';
import type { NewBackup } from '../src/db/tables.js';
import { postgresDatabase, sqliteDatabase, type DatabaseFactory } from './helpers/databases.js';
import { tempDir } from './helpers/service-process.js';

const postgres = postgresDatabase();
const variants: Array<[string, DatabaseFactory | undefined, string | undefined]> = [
  ['sqlite', sqliteDatabase, undefined],
  ['postgres', postgres.factory, postgres.skipReason],
];

function backup(id: string, overrides: Partial<NewBackup> = {}): NewBackup {
  const now = new Date().toISOString();
  return {
    id, project_id: 'p1', user_id: 'u1', volume_id: 'v1', host: null, availability_zone: null, container: null,
    parent_id: null, status: 'creating', fail_reason: null, size: 1, display_name: id, display_description: null,
    service_metadata: null, service: null, backend_name: null, object_count: 0, temp_volume_id: null,
    temp_snapshot_id: null, num_dependent_backups: 0, snapshot_id: null, data_timestamp: now, restore_volume_id: null,
    metadata: '{}', encryption_key_id: null, scheduling_attempts: '[]', created_at: now, updated_at: null, deleted: 0,
    deleted_at: null, ...overrides,
  };
}

for (const [kind, factory, skipReason] of variants) {
  describe.skipIf(factory === undefined)(`Store on ${kind}${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
    async function open() {
      const dir = await tempDir(`store-${kind}`);
      const opened = await openDatabase(await factory!(dir.path));
      return { store: new Store(opened.db), close: async () => { await opened.close(); await dir.remove(); }, url: opened };
    }

    it('migrates once and again without harm', async () => {
      const { store, close } = await open();
      try {
        const { migrateToLatest } = await import('../src/db/connect.js');
        await migrateToLatest(store.db, kind as 'sqlite' | 'postgres');
        expect(await store.listServices()).toEqual([]);
      } finally {
        await close();
      }
    });

    it('a claim (conditional UPDATE) has exactly one winner', async () => {
      const { store, close } = await open();
      try {
        await store.insertBackup(backup('b1'));
        const claims = await Promise.all(
          ['h@a', 'h@b', 'h@c', 'h@d'].map((host) => store.updateBackup('b1', { host }, { status: ['creating'], host: null })),
        );
        expect(claims.filter(Boolean)).toHaveLength(1);
      } finally {
        await close();
      }
    });

    it('up services: enabled, driver up, heartbeat fresh, right zone and backend name', async () => {
      const { store, close } = await open();
      try {
        for (const host of ['n1@a', 'n1@b', 'n2@a', 'n3@a']) {
          await store.registerService({ host, availabilityZone: host === 'n3@a' ? 'az2' : 'nova', driverName: 'x', driverPackage: 'x@1' });
        }
        expect(await store.upServices({ serviceDownTimeMs: 3000 })).toEqual([]);
        for (const host of ['n1@a', 'n1@b', 'n2@a', 'n3@a']) {
          await store.setBackendState(host, 'up', null);
          await store.heartbeat(host);
        }
        await store.setBackendState('n2@a', 'down', 'DRIVER_SETUP: broken');
        // A late heartbeat does not bring a down backend back.
        await store.heartbeat('n2@a');
        await store.db.updateTable('services').set({ disabled: 1 }).where('host', '=', 'n1@b').execute();
        const up = await store.upServices({ serviceDownTimeMs: 3000, availabilityZone: 'nova' });
        expect(up.map((s) => s.host)).toEqual(['n1@a']);
        expect((await store.upServices({ serviceDownTimeMs: 3000, backendName: 'a' })).map((s) => s.host).sort()).toEqual(['n1@a', 'n3@a']);
        const stale = new Date(Date.now() - 10_000).toISOString();
        await store.db.updateTable('services').set({ updated_at: stale }).where('host', '=', 'n1@a').execute();
        expect((await store.upServices({ serviceDownTimeMs: 3000, availabilityZone: 'nova' })).length).toBe(0);
        const services = await store.listServices();
        expect(services.find((s) => s.host === 'n2@a')).toMatchObject({ backend_state: 'down', backend_state_reason: 'DRIVER_SETUP: broken', report_count: 2 });
      } finally {
        await close();
      }
    });

    it('dependent counts, children, latest backup and soft delete', async () => {
      const { store, close } = await open();
      try {
        await store.insertBackup(backup('parent', { status: 'available', data_timestamp: '2026-01-01T00:00:00.000Z' }));
        await store.insertBackup(backup('child', { parent_id: 'parent', data_timestamp: '2026-01-02T00:00:00.000Z' }));
        await store.adjustDependentCount('parent', 1);
        expect(await store.countChildren('parent')).toBe(1);
        expect((await store.latestBackupOfVolume('v1', 'p1'))?.id).toBe('child');
        expect(await store.softDeleteBackup('child')).toBe(true);
        expect(await store.softDeleteBackup('child')).toBe(false);
        await store.adjustDependentCount('parent', -1);
        await store.adjustDependentCount('parent', -1);
        expect((await store.getBackup('parent'))?.num_dependent_backups).toBe(0);
        expect(await store.countChildren('parent')).toBe(0);
        expect(await store.getBackup('child')).toBeUndefined();
        expect((await store.listBackups({ projectId: 'p1' })).map((b) => b.id)).toEqual(['parent']);
      } finally {
        await close();
      }
    });
  });
}
