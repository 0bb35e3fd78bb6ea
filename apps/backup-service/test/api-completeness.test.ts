/**
 * The Cinder v3 API beyond create/list/delete, on an in-process service with `auth_strategy: tokens`: restore,
 * update, export/import, reset-status, force-delete, paging, os-services updates, quotas, volume update/extend,
 * project isolation, the policy table and validation. Every negative test checks Cinder's status, body and that
 * nothing changed.
 */
import { appendFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../src/config/load-config.js';
import { startService, type RunningService } from '../src/service.js';
import { freePort, tempDir, waitUntil } from './helpers/service-process.js';
import { sha256File, sha256Hex, writeRandom } from './helpers/volume-files.js';

const MiB = 1024 * 1024;
const TOKENS = { admin: 'admin-secret-token', a: 'project-a-token', b: 'project-b-token', late: 'added-later-token' } as const;
type Who = keyof typeof TOKENS;

let service: RunningService;
let dir: { path: string; remove: () => Promise<void> };
let tokensFile: string;

beforeAll(async () => {
  dir = await tempDir('complete');
  tokensFile = join(dir.path, 'tokens.yaml');
  await writeFile(
    tokensFile,
    [
      'tokens:',
      `  - {sha256: ${sha256Hex(TOKENS.admin)}, user_id: admin-user, project_id: admin-project, roles: [admin, member]}`,
      `  - {sha256: ${sha256Hex(TOKENS.a)}, user_id: user-a, project_id: project-a, roles: [member]}`,
      `  - {sha256: ${sha256Hex(TOKENS.b)}, user_id: user-b, project_id: project-b, roles: [member]}`,
      '',
    ].join('\n'),
  );
  const config = resolveConfig(
    {
      host: 'complete',
      listen: `127.0.0.1:${await freePort()}`,
      state_path: dir.path,
      auth_strategy: 'tokens',
      auth_tokens_file: tokensFile,
      quota_backups: 6,
      // This file creates more volumes in project-a than Cinder's default volume quota (10) allows.
      quota_volumes: -1,
      backends: [{ name: 'b', driver: 'stowage-driver-example', options: { root: join(dir.path, 'b') } }],
    },
    { baseDir: dir.path, source: 'test' },
  );
  service = await startService(config, pino({ level: 'silent' }));
  await service.initialized;
});

afterAll(async () => {
  await service?.stop();
  await dir?.remove();
});

interface CallOptions {
  readonly as?: Who | null;
  readonly version?: string;
  readonly body?: unknown;
  readonly raw?: string;
}

function call(method: string, url: string, options: CallOptions = {}) {
  const headers: Record<string, string> = {};
  const who = options.as === undefined ? 'a' : options.as;
  if (who !== null) headers['x-auth-token'] = TOKENS[who];
  if (options.version) headers['openstack-api-version'] = `volume ${options.version}`;
  if (options.raw !== undefined) headers['content-type'] = 'application/json';
  const payload = options.raw ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
  if (payload !== undefined) headers['content-type'] = 'application/json';
  return service.app.inject({ method: method as 'GET', url, headers, ...(payload === undefined ? {} : { payload }) });
}

const projectOf = (who: Who) => (who === 'admin' ? 'admin-project' : who === 'a' ? 'project-a' : 'project-b');

async function createVolume(who: Who, size = 1, name = 'vol'): Promise<string> {
  const response = await call('POST', `/v3/${projectOf(who)}/volumes`, { as: who, body: { volume: { size, name, metadata: { origin: name } } } });
  expect(response.statusCode).toBe(202);
  const id = response.json().volume.id as string;
  await waitVolume(who, id, 'available');
  return id;
}

async function volumeOf(who: Who, id: string) {
  return (await call('GET', `/v3/${projectOf(who)}/volumes/${id}`, { as: who })).json().volume;
}

async function waitVolume(who: Who, id: string, status: string) {
  await waitUntil(`volume ${id} ${status}`, async () => (await volumeOf(who, id)).status === status, 30_000, 100);
}

async function backupOf(who: Who, id: string, version = '3.64') {
  return (await call('GET', `/v3/${projectOf(who)}/backups/${id}`, { as: who, version })).json().backup;
}

async function waitBackup(who: Who, id: string, status: string) {
  return waitUntil(
    `backup ${id} ${status}`,
    async () => {
      const backup = await backupOf(who, id);
      if (backup.status === 'error' && status !== 'error') throw new Error(`backup ${id} failed: ${backup.fail_reason}`);
      return backup.status === status ? backup : undefined;
    },
    60_000,
    100,
  );
}

async function createBackup(who: Who, volumeId: string, extra: Record<string, unknown> = {}): Promise<string> {
  const response = await call('POST', `/v3/${projectOf(who)}/backups`, { as: who, body: { backup: { volume_id: volumeId, ...extra } } });
  expect(response.statusCode, response.body).toBe(202);
  const id = response.json().backup.id as string;
  await waitBackup(who, id, 'available');
  await waitVolume(who, volumeId, 'available');
  return id;
}

async function volumePath(id: string): Promise<string> {
  return (await service.store.getVolume(id))!.path;
}

/** The rows that matter, to show a refused request changed nothing (a volume's updated_at aside: tests move them). */
async function snapshot(...ids: string[]) {
  return Promise.all(
    ids.map(async (id) => {
      const backup = await service.store.getBackup(id);
      if (backup) return backup;
      const volume = await service.store.getVolume(id);
      return volume ? { ...volume, updated_at: undefined } : null;
    }),
  );
}

let volumeA: string;
let fullA: string;
let incrementalA: string;
let sourceSha: string;

describe('auth: tokens file', () => {
  it('401 without a token or with an unknown one, as keystonemiddleware answers', async () => {
    for (const headers of [{}, { 'x-auth-token': 'not-a-token' }]) {
      const response = await service.app.inject({ method: 'GET', url: '/v3/project-a/backups', headers });
      expect(response.statusCode).toBe(401);
      expect(response.json()).toEqual({ error: { code: 401, title: 'Unauthorized', message: 'The request you have made requires authentication.' } });
    }
    // Version discovery needs no token.
    expect((await service.app.inject({ method: 'GET', url: '/' })).statusCode).toBe(300);
  });

  it('re-reads the file when it changes', async () => {
    expect((await call('GET', '/v3/late-project/backups', { as: 'late' })).statusCode).toBe(401);
    await appendFile(tokensFile, `  - {sha256: ${sha256Hex(TOKENS.late)}, user_id: late-user, project_id: late-project, roles: [member]}\n`);
    await waitUntil('new token accepted', async () => (await call('GET', '/v3/late-project/backups', { as: 'late' })).statusCode === 200, 5_000, 50);
  });

  it("a member's URL must name its own project", async () => {
    const response = await call('GET', '/v3/project-b/backups', { as: 'a' });
    expect(response.statusCode).toBe(400);
    expect(response.json().badRequest.message).toBe("Malformed request URL: URL's project_id 'project-b' doesn't match Context's project_id 'project-a'");
  });
});

describe('backups: full, incremental, restore', () => {
  it('full then incremental after changing 1% of the volume; parent rules', async () => {
    volumeA = await createVolume('a', 1, 'source');
    const path = await volumePath(volumeA);
    await writeRandom(path, [0, 100 * MiB, 1023 * MiB], MiB);
    fullA = await createBackup('a', volumeA, { name: 'full', description: 'first' });
    await writeRandom(path, Array.from({ length: 10 }, (_, i) => i * 100 * MiB + 10 * MiB), MiB); // ~1%
    incrementalA = await createBackup('a', volumeA, { name: 'incr', incremental: true });
    sourceSha = await sha256File(path);
    const incremental = await backupOf('a', incrementalA);
    expect(incremental).toMatchObject({ is_incremental: true, has_dependent_backups: false, encryption_key_id: null, metadata: {} });
    // Members do not see the admin-only fields, even at 3.64.
    expect(incremental).not.toHaveProperty('os-backup-project-attr:project_id');
    expect(incremental).not.toHaveProperty('user_id');
    expect(await backupOf('a', fullA)).toMatchObject({ is_incremental: false, has_dependent_backups: true });
    const admin = await backupOf('admin', fullA);
    expect(admin).toMatchObject({ 'os-backup-project-attr:project_id': 'project-a', user_id: 'user-a' });
  });

  it('restore into a new volume: named restore_backup_<id>, equal sha256, source metadata carried', async () => {
    const response = await call('POST', `/v3/project-a/backups/${incrementalA}/restore`, { body: { restore: {} } });
    expect(response.statusCode).toBe(202);
    const restore = response.json().restore;
    expect(restore).toEqual({ backup_id: incrementalA, volume_id: expect.any(String), volume_name: `restore_backup_${incrementalA}` });
    await waitBackup('a', incrementalA, 'available');
    await waitVolume('a', restore.volume_id, 'available');
    const volume = await volumeOf('a', restore.volume_id);
    expect(volume).toMatchObject({ size: 1, description: 'auto-created_from_restore_from_backup' });
    expect(volume.metadata).toMatchObject({ origin: 'source', src_backup_id: incrementalA });
    expect(await sha256File(await volumePath(restore.volume_id))).toBe(sourceSha);
  });

  it('restore into an existing, larger volume; the volume is restoring-backup meanwhile', async () => {
    const target = await createVolume('a', 2, 'target');
    const response = await call('POST', `/v3/project-a/backups/${fullA}/restore`, { body: { restore: { volume_id: target } } });
    expect(response.statusCode).toBe(202);
    expect(response.json().restore).toEqual({ backup_id: fullA, volume_id: target, volume_name: 'target' });
    expect(['restoring-backup', 'available']).toContain((await volumeOf('a', target)).status);
    await waitBackup('a', fullA, 'available');
    await waitVolume('a', target, 'available');
    const { stat } = await import('node:fs/promises');
    expect((await stat(await volumePath(target))).size).toBe(2 * 1024 * MiB);
  });

  it('negative: too-small volume, volume not available, unknown ids, backup with incrementals', async () => {
    const small = await createVolume('a', 1, 'small');
    await service.store.updateVolume(small, { size: 1 });
    const big = await createVolume('a', 2, 'big');
    const bigBackup = await createBackup('a', big);
    const before = await snapshot(bigBackup, small, fullA, volumeA);

    const tooSmall = await call('POST', `/v3/project-a/backups/${bigBackup}/restore`, { body: { restore: { volume_id: small } } });
    expect(tooSmall.statusCode).toBe(400);
    expect(tooSmall.json()).toEqual({ badRequest: { code: 400, message: 'Invalid volume: volume size 1 is too small to restore backup of size 2.' } });

    await service.store.transitionVolume(small, ['available'], { status: 'in-use' });
    const busy = await call('POST', `/v3/project-a/backups`, { body: { backup: { volume_id: small } } });
    expect(busy.statusCode).toBe(400);
    expect(busy.json().badRequest.message).toBe('Invalid volume: Volume to be backed up must be available or in-use, but the current status is "in-use".');
    const notAvailable = await call('POST', `/v3/project-a/backups/${fullA}/restore`, { body: { restore: { volume_id: small } } });
    expect(notAvailable.json()).toEqual({ badRequest: { code: 400, message: 'Invalid volume: Volume to be restored to must be available' } });
    await service.store.transitionVolume(small, ['in-use'], { status: 'available' });

    const unknown = crypto.randomUUID();
    expect((await call('GET', `/v3/project-a/backups/${unknown}`)).json()).toEqual({ itemNotFound: { code: 404, message: `Backup ${unknown} could not be found.` } });
    expect((await call('POST', '/v3/project-a/backups', { body: { backup: { volume_id: unknown } } })).json()).toEqual({
      itemNotFound: { code: 404, message: `Volume ${unknown} could not be found.` },
    });
    const withChildren = await call('DELETE', `/v3/project-a/backups/${fullA}`);
    expect(withChildren.statusCode).toBe(400);
    expect(withChildren.json()).toEqual({ badRequest: { code: 400, message: 'Invalid backup: Incremental backups exist for this backup.' } });
    const forced = await call('POST', `/v3/admin-project/backups/${fullA}/action`, { as: 'admin', body: { 'os-force_delete': {} } });
    expect(forced.json()).toEqual({ badRequest: { code: 400, message: 'Invalid backup: Incremental backups exist for this backup.' } });

    const after = await snapshot(bigBackup, small, fullA, volumeA);
    expect(after).toEqual(before);
    expect(await service.store.listVolumes('project-a')).toHaveLength(5);
  });
});

describe('validation: Cinder 400 bodies, nothing created', () => {
  it('malformed JSON, unknown keys, long names, non-UUID ids, bad booleans', async () => {
    const count = async () => (await service.store.listBackups({ projectId: 'project-a' })).length;
    const before = await count();
    const malformed = await call('POST', '/v3/project-a/backups', { raw: '{"backup": {"volume_id": ' });
    expect(malformed.statusCode).toBe(400);
    expect(malformed.json()).toEqual({ badRequest: { code: 400, message: 'Malformed request body' } });

    const long = await call('POST', '/v3/project-a/backups', { body: { backup: { volume_id: volumeA, name: 'n'.repeat(256) } } });
    expect(long.statusCode).toBe(400);
    expect(long.json().badRequest.message).toBe(`Invalid input for field/attribute name. Value: ${'n'.repeat(256)}. '${'n'.repeat(256)}' is too long`);

    const extra = await call('POST', '/v3/project-a/backups', { body: { backup: { volume_id: volumeA, colour: 'red' } } });
    expect(extra.json().badRequest.message).toMatch(/^Invalid input for field\/attribute backup\. Value: .*Additional properties are not allowed \('colour' was unexpected\)$/);
    // metadata only from 3.43: rejected below, accepted at it.
    const early = await call('POST', '/v3/project-a/backups', { body: { backup: { volume_id: volumeA, metadata: { k: 'v' } } } });
    expect(early.json().badRequest.message).toContain("Additional properties are not allowed ('metadata' was unexpected)");

    const notUuid = await call('POST', '/v3/project-a/backups', { body: { backup: { volume_id: 'nope' } } });
    expect(notUuid.json()).toEqual({ badRequest: { code: 400, message: "Invalid input for field/attribute volume_id. Value: nope. 'nope' is not a 'uuid'" } });
    const missing = await call('POST', '/v3/project-a/backups', { body: { backup: {} } });
    expect(missing.json().badRequest.message).toBe("Invalid input for field/attribute backup. Value: {}. 'volume_id' is a required property");
    const badBool = await call('POST', '/v3/project-a/backups', { body: { backup: { volume_id: volumeA, incremental: 'maybe' } } });
    expect(badBool.statusCode).toBe(400);
    expect(await count()).toBe(before);
    expect((await volumeOf('a', volumeA)).status).toBe('available');
  });
});

describe('update, list paging and sorting', () => {
  it('update needs 3.9 (404 below), metadata from 3.43; returns the summary', async () => {
    expect((await call('PUT', `/v3/project-a/backups/${fullA}`, { body: { backup: { name: 'x' } } })).statusCode).toBe(404);
    const updated = await call('PUT', `/v3/project-a/backups/${fullA}`, { version: '3.43', body: { backup: { name: 'renamed', description: 'd2', metadata: { a: 'b' } } } });
    expect(updated.statusCode).toBe(200);
    expect(updated.headers['openstack-api-version']).toBe('volume 3.43');
    expect(Object.keys(updated.json().backup).sort()).toEqual(['id', 'links', 'name']);
    expect(await backupOf('a', fullA)).toMatchObject({ name: 'renamed', description: 'd2', metadata: { a: 'b' } });
  });

  it('limit, marker, backups_links, sort and with_count', async () => {
    const all = (await call('GET', '/v3/project-a/backups?sort=name:asc')).json().backups.map((b: { name: string }) => b.name);
    // SQL sorts null names first.
    expect(all).toEqual([...all].sort((x: string | null, y: string | null) => (x === y ? 0 : x === null ? -1 : y === null ? 1 : x < y ? -1 : 1)));
    const first = (await call('GET', '/v3/project-a/backups?limit=2', { version: '3.45' })).json();
    expect(first.backups).toHaveLength(2);
    const next = new URL(first.backups_links[0].href);
    expect(next.pathname).toBe('/v3/project-a/backups');
    expect(next.searchParams.get('marker')).toBe(first.backups[1].id);
    const second = (await call('GET', `${next.pathname}${next.search}`)).json();
    expect(second.backups.map((b: { id: string }) => b.id)).not.toContain(first.backups[0].id);
    const counted = (await call('GET', '/v3/project-a/backups/detail?limit=1&with_count=true', { version: '3.45' })).json();
    expect(counted.count).toBe(all.length);
    expect((await call('GET', '/v3/project-a/backups?limit=-1')).json()).toEqual({ badRequest: { code: 400, message: 'limit param must be positive' } });
    expect((await call('GET', '/v3/project-a/backups?sort=colour')).statusCode).toBe(400);
    const filtered = (await call('GET', `/v3/project-a/backups?volume_id=${volumeA}&status=available`)).json().backups;
    expect(filtered.map((b: { id: string }) => b.id).sort()).toEqual([fullA, incrementalA].sort());
  });
});

describe('project isolation and the policy table', () => {
  it("project B can neither read, restore, update nor delete project A's backup, nor use its volume", async () => {
    const before = await snapshot(incrementalA, volumeA);
    const notFound = { itemNotFound: { code: 404, message: `Backup ${incrementalA} could not be found.` } };
    expect((await call('GET', `/v3/project-b/backups/${incrementalA}`, { as: 'b' })).json()).toEqual(notFound);
    expect((await call('POST', `/v3/project-b/backups/${incrementalA}/restore`, { as: 'b', body: { restore: {} } })).json()).toEqual(notFound);
    expect((await call('DELETE', `/v3/project-b/backups/${incrementalA}`, { as: 'b' })).json()).toEqual(notFound);
    expect((await call('PUT', `/v3/project-b/backups/${incrementalA}`, { as: 'b', version: '3.9', body: { backup: { name: 'mine' } } })).statusCode).toBe(404);
    expect((await call('GET', '/v3/project-b/backups?all_tenants=1', { as: 'b' })).json().backups).toEqual([]);
    expect((await call('POST', '/v3/project-b/backups', { as: 'b', body: { backup: { volume_id: volumeA } } })).statusCode).toBe(404);
    // An incremental of another project's volume (cinder-tempest-plugin's crossproject tests) is refused too.
    expect((await call('POST', '/v3/project-b/backups', { as: 'b', body: { backup: { volume_id: volumeA, incremental: true } } })).statusCode).toBe(404);
    expect(await snapshot(incrementalA, volumeA)).toEqual(before);
    // The admin sees every project with all_tenants.
    const everything = (await call('GET', '/v3/admin-project/backups?all_tenants=1', { as: 'admin' })).json().backups;
    expect(everything.map((b: { id: string }) => b.id)).toContain(incrementalA);
  });

  it('a member calling an admin action gets 403 with the policy name, and nothing changes', async () => {
    const before = await snapshot(incrementalA);
    const cases: Array<[string, string, unknown, string]> = [
      ['POST', `/v3/project-a/backups/${incrementalA}/action`, { 'os-reset_status': { status: 'error' } }, 'volume_extension:backup_admin_actions:reset_status'],
      ['POST', `/v3/project-a/backups/${incrementalA}/action`, { 'os-force_delete': {} }, 'volume_extension:backup_admin_actions:force_delete'],
      ['GET', `/v3/project-a/backups/${incrementalA}/export_record`, undefined, 'backup:backup-export'],
      ['POST', '/v3/project-a/backups/import_record', { 'backup-record': { backup_service: 'x', backup_url: 'e30=' } }, 'backup:backup-import'],
      ['GET', '/v3/project-a/os-services', undefined, 'volume_extension:services:index'],
      ['PUT', '/v3/project-a/os-services/disable', { host: 'complete@b', binary: 'cinder-backup' }, 'volume_extension:services:update'],
    ];
    for (const [method, url, body, action] of cases) {
      const response = await call(method, url, { body });
      expect(response.statusCode, url).toBe(403);
      expect(response.json()).toEqual({ forbidden: { code: 403, message: `Policy doesn't allow ${action} to be performed.` } });
    }
    expect(await snapshot(incrementalA)).toEqual(before);
    expect((await service.store.listServices())[0]!.disabled).toBe(0);
  });
});

describe('admin actions', () => {
  it('export_record, then import_record with a changed id: available, listed, restorable', async () => {
    const exported = await call('GET', `/v3/admin-project/backups/${incrementalA}/export_record`, { as: 'admin' });
    expect(exported.statusCode).toBe(200);
    const record = exported.json()['backup-record'];
    expect(Object.keys(record).sort()).toEqual(['backup_service', 'backup_url']);
    expect(record.backup_service).toBe('cinder.backup.drivers.stowage.example');
    const decoded = JSON.parse(Buffer.from(record.backup_url, 'base64').toString('utf8'));
    expect(decoded).toMatchObject({ id: incrementalA, size: 1, parent_id: fullA, driver_info: { backend_name: 'b', driver: 'example' } });

    const existing = await call('POST', '/v3/admin-project/backups/import_record', { as: 'admin', body: { 'backup-record': record } });
    expect(existing.json()).toEqual({ badRequest: { code: 400, message: 'Invalid backup: Backup already exists in database.' } });

    const newId = crypto.randomUUID();
    const url = Buffer.from(JSON.stringify({ ...decoded, id: newId })).toString('base64');
    const imported = await call('POST', '/v3/admin-project/backups/import_record', { as: 'admin', body: { 'backup-record': { ...record, backup_url: url } } });
    expect(imported.statusCode).toBe(201);
    expect(imported.json().backup).toMatchObject({ id: newId });
    await waitBackup('admin', newId, 'available');
    expect((await call('GET', '/v3/admin-project/backups', { as: 'admin' })).json().backups.map((b: { id: string }) => b.id)).toContain(newId);

    const restored = await call('POST', `/v3/admin-project/backups/${newId}/restore`, { as: 'admin', body: { restore: { name: 'from-import' } } });
    expect(restored.statusCode).toBe(202);
    const volumeId = restored.json().restore.volume_id;
    await waitBackup('admin', newId, 'available');
    await waitVolume('admin', volumeId, 'available');
    expect(await sha256File(await volumePath(volumeId))).toBe(sourceSha);

    // Deleting the imported copy keeps the objects the original still uses.
    expect((await call('DELETE', `/v3/admin-project/backups/${newId}`, { as: 'admin' })).statusCode).toBe(202);
    await waitUntil('import deleted', async () => (await call('GET', `/v3/admin-project/backups/${newId}`, { as: 'admin' })).statusCode === 404, 20_000, 100);
    await waitBackup('a', fullA, 'available');
    const again = await call('POST', `/v3/project-a/backups/${incrementalA}/restore`, { body: { restore: {} } });
    await waitBackup('a', incrementalA, 'available');
    await waitVolume('a', again.json().restore.volume_id, 'available');
  });

  it('import of a record whose data is missing ends in error; an unparsable record is 400', async () => {
    const record = { id: crypto.randomUUID(), size: 1, container: 'nothing-here', service_metadata: 'volume_x/backup_y/', driver_info: { backend_name: 'b' } };
    const response = await call('POST', '/v3/admin-project/backups/import_record', {
      as: 'admin',
      body: { 'backup-record': { backup_service: 'cinder.backup.drivers.stowage.example', backup_url: Buffer.from(JSON.stringify(record)).toString('base64') } },
    });
    expect(response.statusCode).toBe(201);
    const failed = await waitBackup('admin', record.id, 'error');
    expect(failed.fail_reason).toContain('metadata');
    const garbage = await call('POST', '/v3/admin-project/backups/import_record', { as: 'admin', body: { 'backup-record': { backup_service: 'x', backup_url: '!!!' } } });
    expect(garbage.json()).toEqual({ badRequest: { code: 400, message: "Invalid input received: Can't parse backup record." } });
    expect((await call('DELETE', `/v3/admin-project/backups/${record.id}`, { as: 'admin' })).statusCode).toBe(202);
  });

  it('reset-status: error and back; an invalid status is 400 and changes nothing', async () => {
    const invalid = await call('POST', `/v3/admin-project/backups/${incrementalA}/action`, { as: 'admin', body: { 'os-reset_status': { status: 'creating' } } });
    expect(invalid.json()).toEqual({ badRequest: { code: 400, message: 'Invalid backup: Backup status must be available or error, not creating.' } });
    expect((await backupOf('a', incrementalA)).status).toBe('available');
    const reset = await call('POST', `/v3/admin-project/backups/${incrementalA}/action`, { as: 'admin', body: { 'os-reset_status': { status: 'error' } } });
    expect(reset.statusCode).toBe(202);
    expect(reset.body).toBe('');
    expect((await backupOf('a', incrementalA)).status).toBe('error');
    await call('POST', `/v3/admin-project/backups/${incrementalA}/action`, { as: 'admin', body: { 'os-reset_status': { status: 'available' } } });
    expect((await backupOf('a', incrementalA)).status).toBe('available');
  });

  it('os-services: disable (with reason) keeps new work off the backend; enable brings it back', async () => {
    const disabled = await call('PUT', '/v3/admin-project/os-services/disable-log-reason', {
      as: 'admin',
      body: { host: 'complete@b', binary: 'cinder-backup', disabled_reason: 'maintenance' },
    });
    expect(disabled.json()).toEqual({ disabled: true, status: 'disabled', host: 'complete@b', service: 'cinder-backup', binary: 'cinder-backup', disabled_reason: 'maintenance' });
    const listed = (await call('GET', '/v3/admin-project/os-services?host=complete@b', { as: 'admin' })).json().services[0];
    expect(listed).toMatchObject({ status: 'disabled', disabled_reason: 'maintenance' });
    const response = await call('POST', '/v3/project-a/backups', { body: { backup: { volume_id: volumeA, incremental: true } } });
    expect(response.statusCode).toBe(202);
    const failed = await waitBackup('a', response.json().backup.id, 'error');
    expect(failed.fail_reason).toContain('Service not found for creating backup');
    await waitVolume('a', volumeA, 'available');
    expect((await call('POST', `/v3/project-a/backups/${fullA}/restore`, { body: { restore: {} } })).json()).toEqual({
      itemNotFound: { code: 404, message: 'Service cinder-backup could not be found.' },
    });
    // An error backup that never reached a backend is deletable with the backend disabled.
    expect((await call('DELETE', `/v3/project-a/backups/${response.json().backup.id}`)).statusCode).toBe(202);
    const enabled = await call('PUT', '/v3/admin-project/os-services/enable', { as: 'admin', body: { host: 'complete@b', binary: 'cinder-backup' } });
    expect(enabled.json()).toEqual({ disabled: false, status: 'enabled', host: 'complete@b', service: 'cinder-backup', binary: 'cinder-backup' });
    expect((await call('PUT', '/v3/admin-project/os-services/enable', { as: 'admin', body: { host: 'nowhere', binary: 'cinder-backup' } })).statusCode).toBe(404);
    expect((await call('PUT', '/v3/admin-project/os-services/enable', { as: 'admin', body: { binary: 'cinder-backup' } })).statusCode).toBe(400);
  });

  it('force-delete deletes an available backup without children', async () => {
    const response = await call('POST', `/v3/admin-project/backups/${incrementalA}/action`, { as: 'admin', body: { 'os-force_delete': null } });
    expect(response.statusCode).toBe(202);
    await waitUntil('deleted', async () => (await call('GET', `/v3/project-a/backups/${incrementalA}`)).statusCode === 404, 20_000, 100);
    expect((await backupOf('a', fullA)).has_dependent_backups).toBe(false);
  });
});

describe('quotas', () => {
  it('413 with Cinder body over the backups quota and over a per-project gigabytes override; deletes release it', async () => {
    await service.store.db.insertInto('quotas').values({ project_id: 'project-b', resource: 'backup_gigabytes', hard_limit: 1, created_at: new Date().toISOString(), updated_at: null }).execute();
    const volumeB = await createVolume('b', 2, 'b-vol');
    const before = await snapshot(volumeB);
    const over = await call('POST', '/v3/project-b/backups', { as: 'b', body: { backup: { volume_id: volumeB } } });
    expect(over.statusCode).toBe(413);
    expect(over.headers['retry-after']).toBe('0');
    expect(over.json()).toEqual({
      overLimit: { code: 413, message: 'Requested backup exceeds allowed Backup gigabytes quota. Requested 2G, quota is 1G and 0G has been consumed.', retryAfter: '0' },
    });
    expect(await snapshot(volumeB)).toEqual(before);

    // project-a: quota_backups 6 (configured); fill it up, then one more is refused.
    const usage = await service.store.backupUsage('project-a');
    const extra: string[] = [];
    for (let i = usage.backups; i < 6; i += 1) extra.push(await createBackup('a', volumeA, { name: `q${i}` }));
    const full = await call('POST', '/v3/project-a/backups', { body: { backup: { volume_id: volumeA } } });
    expect(full.json()).toEqual({ overLimit: { code: 413, message: 'Maximum number of backups allowed (6) exceeded', retryAfter: '0' } });
    expect((await volumeOf('a', volumeA)).status).toBe('available');
    const last = extra.pop() ?? fullA;
    expect((await call('DELETE', `/v3/project-a/backups/${last}`)).statusCode).toBe(202);
    await waitUntil('released', async () => (await service.store.backupUsage('project-a')).backups < 6, 20_000, 100);
    const fits = await call('POST', '/v3/project-a/backups', { body: { backup: { volume_id: volumeA, name: 'fits' } } });
    expect(fits.statusCode).toBe(202);
    await waitBackup('a', fits.json().backup.id, 'available');
  });
});

describe('volumes', () => {
  it("create ignores unknown keys as Cinder does (the plugin's literal \"'backup_id\" key), but checks known ones", async () => {
    const created = await call('POST', '/v3/project-a/volumes', { body: { volume: { size: 1, name: 'loose', "'backup_id": crypto.randomUUID() } } });
    expect(created.statusCode).toBe(202);
    await waitVolume('a', created.json().volume.id, 'available');
    const long = await call('POST', '/v3/project-a/volumes', { body: { volume: { size: 1, name: 'x'.repeat(256) } } });
    expect(long.statusCode).toBe(400);
    expect(long.json().badRequest.message).toMatch(/^Invalid input for field\/attribute name\. .* is too long$/);
  });

  it('3.47: a volume created from a backup is restored from it (status creating until done); ignored below 3.47', async () => {
    const response = await call('POST', '/v3/project-a/volumes', { version: '3.47', body: { volume: { backup_id: fullA, name: 'from-backup' } } });
    expect(response.statusCode, response.body).toBe(202);
    const id = response.json().volume.id as string;
    expect(response.json().volume).toMatchObject({ status: 'creating', size: 1 });
    await waitVolume('a', id, 'available');
    expect((await volumeOf('a', id)).metadata).toMatchObject({ src_backup_id: fullA });
    await waitBackup('a', fullA, 'available');
    const viaRestore = await call('POST', `/v3/project-a/backups/${fullA}/restore`, { body: { restore: {} } });
    await waitVolume('a', viaRestore.json().restore.volume_id, 'available');
    expect(await sha256File(await volumePath(id))).toBe(await sha256File(await volumePath(viaRestore.json().restore.volume_id)));
    expect(await sha256File(await volumePath(id))).not.toBe(await sha256File(await volumePath(await createVolume('a', 1, 'blank'))));

    const old = await call('POST', '/v3/project-a/volumes', { body: { volume: { backup_id: fullA, size: 1 } } });
    await waitVolume('a', old.json().volume.id, 'available');
    expect((await volumeOf('a', old.json().volume.id)).metadata).not.toHaveProperty('src_backup_id');
    const otherProject = await call('POST', '/v3/project-b/volumes', { as: 'b', version: '3.47', body: { volume: { backup_id: fullA } } });
    expect(otherProject.json()).toEqual({ itemNotFound: { code: 404, message: `Backup ${fullA} could not be found.` } });
  });

  it('update name/description, extend (sparse), statuses; invalid extends are 400', async () => {
    const id = await createVolume('a', 1, 'grow');
    const updated = await call('PUT', `/v3/project-a/volumes/${id}`, { body: { volume: { name: 'grown', description: 'bigger' } } });
    expect(updated.statusCode).toBe(200);
    expect(updated.json().volume).toMatchObject({ name: 'grown', description: 'bigger' });
    expect(updated.json().volume).not.toHaveProperty('os-vol-tenant-attr:tenant_id');
    expect((await call('POST', `/v3/project-a/volumes/${id}/action`, { body: { 'os-extend': { new_size: 3 } } })).statusCode).toBe(202);
    const { stat } = await import('node:fs/promises');
    const info = await stat(await volumePath(id));
    expect(info.size).toBe(3 * 1024 * MiB);
    expect(info.blocks * 512).toBeLessThan(MiB);
    expect((await volumeOf('a', id)).size).toBe(3);
    const smaller = await call('POST', `/v3/project-a/volumes/${id}/action`, { body: { 'os-extend': { new_size: 2 } } });
    expect(smaller.json()).toEqual({ badRequest: { code: 400, message: 'Invalid input received: New size for extend must be greater than current size. (current: 3, extended: 2).' } });
    const long = await call('PUT', `/v3/project-a/volumes/${id}`, { body: { volume: { name: 'x'.repeat(256) } } });
    expect(long.statusCode).toBe(400);
    expect((await call('GET', `/v3/project-b/volumes/${id}`, { as: 'b' })).statusCode).toBe(404);
    expect((await call('DELETE', `/v3/project-b/volumes/${id}`, { as: 'b' })).statusCode).toBe(404);
    expect((await volumeOf('a', id)).name).toBe('grown');
  });
});

describe('failure paths', () => {
  it('a restore whose data is gone: the volume ends error_restoring, the backup available again', async () => {
    const volumeId = await createVolume('admin', 1, 'doomed');
    await writeRandom(await volumePath(volumeId), [0], MiB);
    const backupId = await createBackup('admin', volumeId);
    const row = (await service.store.getBackup(backupId))!;
    const driver = service.manager.backends.get('complete@b')!.driver;
    await driver.deleteObject(row.container!, `${row.service_metadata!}metadata`, {});
    const target = await createVolume('admin', 1, 'target');
    const response = await call('POST', `/v3/admin-project/backups/${backupId}/restore`, { as: 'admin', body: { restore: { volume_id: target } } });
    expect(response.statusCode).toBe(202);
    await waitVolume('admin', target, 'error_restoring');
    expect((await backupOf('admin', backupId)).status).toBe('available');
  });

  it('force delete of a create not scheduled yet: gone at once, the volume back to its status', async () => {
    const volumeId = await createVolume('admin', 1, 'unscheduled');
    const base = (await service.store.listBackups({ projectId: 'admin-project' }))[0]!;
    const id = crypto.randomUUID();
    await service.store.insertBackup({ ...base, id, volume_id: volumeId, status: 'creating', host: null, service: null, parent_id: null, num_dependent_backups: 0 });
    await service.store.transitionVolume(volumeId, ['available'], { status: 'backing-up', previous_status: 'available' });
    const response = await call('POST', `/v3/admin-project/backups/${id}/action`, { as: 'admin', body: { 'os-force_delete': {} } });
    expect(response.statusCode).toBe(202);
    expect((await call('GET', `/v3/admin-project/backups/${id}`, { as: 'admin' })).statusCode).toBe(404);
    expect((await volumeOf('admin', volumeId)).status).toBe('available');
    // Without force, a creating backup cannot be deleted.
    const other = crypto.randomUUID();
    await service.store.insertBackup({ ...base, id: other, volume_id: volumeId, status: 'creating', host: null, service: null, parent_id: null, num_dependent_backups: 0 });
    expect((await call('DELETE', `/v3/admin-project/backups/${other}`, { as: 'admin' })).json()).toEqual({
      badRequest: { code: 400, message: 'Invalid backup: Backup status must be available or error' },
    });
    await call('POST', `/v3/admin-project/backups/${other}/action`, { as: 'admin', body: { 'os-force_delete': {} } });
  });
});
