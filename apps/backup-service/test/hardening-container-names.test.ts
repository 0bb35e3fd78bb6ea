/**
 * Issue 11, item 3: container names no driver accepts are refused at the API (400, Cinder's validator body), and an
 * error backup whose container was never written (recorded before this check) is deletable instead of ending `error`.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHardened, type HardenedService } from './helpers/hardening-service.js';
import { tempDir, waitUntil } from './helpers/service-process.js';

let h: HardenedService;
let dir: { path: string; remove: () => Promise<void> };
beforeAll(async () => {
  dir = await tempDir('container-names');
  // The posix driver: it refuses a container that is not a plain folder name, as the audit saw.
  h = await startHardened({ backends: [{ name: 'b', driver: '@stowage/driver-posix', options: { path: join(dir.path, 'b') } }] }, { dir: dir.path });
});
afterAll(async () => {
  await h?.stop();
  await dir?.remove();
});

describe('container names', () => {
  it.each(['bad name', '../../x', 'a/b', '.hidden', '-x', 'nul\u0000x'])('refuses %j with 400', async (container) => {
    const volume = await h.volume('member1');
    const created = await h.call('member1', 'POST', '/backups', { backup: { volume_id: volume, container } });
    expect(created.status).toBe(400);
    expect(created.body.badRequest.code).toBe(400);
    expect(created.body.badRequest.message).toMatch(/^Invalid input for field\/attribute container\. Value: .*\. '.*' does not match '\^\[A-Za-z0-9_\]/s);
    expect((await h.call('member1', 'GET', `/volumes/${volume}`)).body.volume.status).toBe('available');
    await h.call('member1', 'DELETE', `/volumes/${volume}`);
  });

  it("accepts tempest's container='container' and a too long name is Cinder's 'is too long'", async () => {
    const volume = await h.volume('member2');
    const long = await h.call('member2', 'POST', '/backups', { backup: { volume_id: volume, container: 'c'.repeat(256) } });
    expect(long.status).toBe(400);
    expect(long.body.badRequest.message).toMatch(/is too long$/);
    const created = await h.call('member2', 'POST', '/backups', { backup: { volume_id: volume, container: 'container' } });
    expect(created.status).toBe(202);
    await waitUntil('backup available', async () => (await h.call('member2', 'GET', `/backups/${created.body.backup.id}`)).body.backup.status === 'available');
  });
});

describe('an error backup whose container was never written', () => {
  it('is deleted (no error), releasing its quota', async () => {
    const volume = await h.volume('member1');
    const created = await h.call('member1', 'POST', '/backups', { backup: { volume_id: volume } });
    const id = created.body.backup.id as string;
    await waitUntil('backup available', async () => (await h.call('member1', 'GET', `/backups/${id}`)).body.backup.status === 'available');
    // As such a backup was recorded before the API checked names: with a service, failed at its container.
    await h.service.store.updateBackup(id, { status: 'error', container: '../../x', fail_reason: 'container name "../../x" is not a plain folder name' });
    expect((await h.call('member1', 'DELETE', `/backups/${id}`)).status).toBe(202);
    await waitUntil('backup gone', async () => (await h.call('member1', 'GET', `/backups/${id}`)).status === 404, 10_000, 50);
    expect((await h.service.store.getBackupIncludingDeleted(id))?.status).toBe('deleted');
  });
});

describe('an imported record', () => {
  const record = (overrides: Record<string, unknown>) =>
    Buffer.from(
      JSON.stringify({ id: crypto.randomUUID(), size: 1, container: 'backups', service_metadata: 'volume_v/backup_b/', ...overrides }),
    ).toString('base64');

  it.each([
    ['a container no backend accepts', { container: '../../x' }, /container is not a container name every backend accepts/],
    ['a NUL in its name', { display_name: 'nul\u0000x' }, /display_name contains a NUL character/],
    ['a NUL in a metadata value', { metadata: { k: 'v\u0000' } }, /contains a NUL character/],
  ])('with %s is refused with 400 and records nothing', async (_label, overrides, message) => {
    const url = record(overrides);
    const before = (await h.call('admin', 'GET', '/backups?all_tenants=1')).body.backups.length as number;
    const imported = await h.call('admin', 'POST', '/backups/import_record', {
      'backup-record': { backup_service: 'cinder.backup.drivers.stowage.posix', backup_url: url },
    });
    expect(imported.status).toBe(400);
    expect(imported.body.badRequest.message).toMatch(message);
    expect((await h.call('admin', 'GET', '/backups?all_tenants=1')).body.backups.length).toBe(before);
  });
});
