/** API shapes that cinderclient and tempest rely on (reference section 4), on an in-process service. */
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../src/config/load-config.js';
import { parseMicroversion } from '../src/api/microversion.js';
import { startService, type RunningService } from '../src/service.js';
import { freePort, tempDir, waitUntil } from './helpers/service-process.js';

let service: RunningService;
let dir: { path: string; remove: () => Promise<void> };

beforeAll(async () => {
  dir = await tempDir('api');
  const config = resolveConfig(
    { host: 'api', listen: `127.0.0.1:${await freePort()}`, state_path: dir.path, backends: [{ name: 'b', driver: 'stowage-driver-example', options: { root: join(dir.path, 'b') } }] },
    { baseDir: dir.path, source: 'test' },
  );
  service = await startService(config, pino({ level: 'silent' }));
  await service.initialized;
});

afterAll(async () => {
  await service.stop();
  await dir.remove();
});

function call(method: string, url: string, options: { token?: string | null; version?: string; body?: unknown; headers?: Record<string, string> } = {}) {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token !== null) headers['x-auth-token'] = options.token ?? 'u1:p1';
  if (options.version) headers['openstack-api-version'] = `volume ${options.version}`;
  return service.app.inject({ method: method as 'GET', url, headers, ...(options.body === undefined ? {} : { payload: options.body as object }) });
}

describe('Block Storage v3 API', () => {
  it('version discovery: 300 at /, 3.0-3.70', async () => {
    const response = await call('GET', '/', { token: null });
    expect(response.statusCode).toBe(300);
    expect(response.json().versions[0]).toMatchObject({ id: 'v3.0', status: 'CURRENT', version: '3.70', min_version: '3.0' });
  });

  it('echoes the microversion, refuses unsupported ones with 406', async () => {
    const ok = await call('GET', '/v3/p1/backups', { version: '3.45' });
    expect(ok.headers['openstack-api-version']).toBe('volume 3.45');
    expect(ok.headers.vary).toBe('OpenStack-API-Version');
    expect((await call('GET', '/v3/p1/backups')).headers['openstack-api-version']).toBe('volume 3.0');
    const bad = await call('GET', '/v3/p1/backups', { version: '3.99' });
    expect(bad.statusCode).toBe(406);
    expect(bad.json()).toEqual({ computeFault: { code: 406, message: 'Version 3.99 is not supported by the API. Minimum is 3.0 and maximum is 3.70.' } });
    expect(parseMicroversion('volume latest')).toEqual({ major: 3, minor: 70 });
    expect(parseMicroversion('compute 2.1, volume 3.9')).toEqual({ major: 3, minor: 9 });
  });

  it('refuses a version header that names no volume version (Cinder: 400; a bare "volume" was a 500 there)', async () => {
    for (const header of ['volume', 'compute 3.5', 'volumes 3.5', 'volume 3.', 'volume 03.070']) {
      const answer = await call('GET', '/v3/p1/backups', { headers: { 'openstack-api-version': header } });
      expect(answer.statusCode, header).toBe(400);
      expect(Object.keys(answer.json()), header).toEqual(['badRequest']);
    }
  });

  it('noauth: no token gets one (204) as Cinder; the project-less 3.67 routes use the token project', async () => {
    const noToken = await call('GET', '/v3/p1/backups', { token: null });
    expect(noToken.statusCode).toBe(204);
    expect(noToken.headers['x-auth-token']).toBe('admin:admin');
    const created = await call('POST', '/v3/volumes', { token: 'u9:p9', body: { volume: { size: 1 } } });
    expect(created.statusCode).toBe(202);
    const id = created.json().volume.id as string;
    // Create answers without the show-only extension keys, as Cinder does (tempest's create schema refuses them).
    expect(created.json().volume).not.toHaveProperty('os-vol-tenant-attr:tenant_id');
    expect((await call('GET', `/v3/p9/volumes/${id}`, { token: 'u9:p9' })).json().volume['os-vol-tenant-attr:tenant_id']).toBe('p9');
    const listed = await call('GET', '/v3/p9/volumes', { token: 'u9:p9' });
    expect(listed.json().volumes.map((v: { id: string }) => v.id)).toContain(created.json().volume.id);
  });

  it("Cinder's error bodies and status codes", async () => {
    const missing = await call('GET', '/v3/p1/backups/nope');
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toEqual({ itemNotFound: { code: 404, message: 'Backup nope could not be found.' } });
    const unknownVolume = crypto.randomUUID();
    const noVolume = await call('POST', '/v3/p1/backups', { body: { backup: { volume_id: unknownVolume } } });
    expect(noVolume.json()).toEqual({ itemNotFound: { code: 404, message: `Volume ${unknownVolume} could not be found.` } });
    const bad = await call('POST', '/v3/p1/backups', { body: { backup: {} } });
    expect(bad.statusCode).toBe(400);
    expect(Object.keys(bad.json())).toEqual(['badRequest']);
    const badSize = await call('POST', '/v3/p1/volumes', { body: { volume: { size: 0 } } });
    expect(badSize.json().badRequest.message).toBe("Invalid input received: Volume size '0' must be an integer and greater than 0");
    expect((await call('GET', '/v3/p1/nothing-here')).json()).toEqual({ itemNotFound: { code: 404, message: 'The resource could not be found.' } });
  });

  it('backup create/list/detail/show by microversion, delete rules', async () => {
    const volume = (await call('POST', '/v3/p1/volumes', { body: { volume: { size: 1, name: 'v' } } })).json().volume;
    await waitUntil('volume available', async () => (await call('GET', `/v3/p1/volumes/${volume.id}`)).json().volume.status === 'available');
    const created = await call('POST', '/v3/p1/backups', { version: '3.43', body: { backup: { volume_id: volume.id, name: 'n', metadata: { k: 'v' } } } });
    expect(created.statusCode).toBe(202);
    const summary = created.json().backup;
    expect(Object.keys(summary).sort()).toEqual(['id', 'links', 'name']);
    expect(summary.links[0].href).toMatch(new RegExp(`/v3/p1/backups/${summary.id}$`));
    // The volume is busy while backing up.
    expect((await call('POST', '/v3/p1/backups', { body: { backup: { volume_id: volume.id } } })).statusCode).toBe(400);
    await waitUntil('available', async () => (await call('GET', `/v3/p1/backups/${summary.id}`)).json().backup.status === 'available');

    const at30 = (await call('GET', `/v3/p1/backups/${summary.id}`)).json().backup;
    expect(Object.keys(at30).sort()).toEqual(
      ['availability_zone', 'container', 'created_at', 'data_timestamp', 'description', 'fail_reason', 'has_dependent_backups', 'id', 'is_incremental', 'links', 'name', 'object_count', 'size', 'snapshot_id', 'status', 'updated_at', 'volume_id'].sort(),
    );
    expect(at30.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/);
    const at64 = (await call('GET', `/v3/p1/backups/${summary.id}`, { version: '3.64' })).json().backup;
    expect(at64).toMatchObject({ metadata: { k: 'v' }, user_id: 'u1', 'os-backup-project-attr:project_id': 'p1', encryption_key_id: null });

    const incremental = await call('POST', '/v3/p1/backups', { body: { backup: { volume_id: volume.id, incremental: true } } });
    await waitUntil('incremental', async () => (await call('GET', `/v3/p1/backups/${incremental.json().backup.id}`)).json().backup.status === 'available');
    const parent = (await call('GET', `/v3/p1/backups/${summary.id}`)).json().backup;
    expect(parent.has_dependent_backups).toBe(true);
    const refused = await call('DELETE', `/v3/p1/backups/${summary.id}`);
    expect(refused.statusCode).toBe(400);
    expect(refused.json().badRequest.message).toBe('Invalid backup: Incremental backups exist for this backup.');

    const detail = (await call('GET', '/v3/p1/backups/detail')).json().backups;
    expect(detail.map((b: { id: string }) => b.id)).toEqual(expect.arrayContaining([summary.id, incremental.json().backup.id]));
    expect((await call('GET', '/v3/p1/backups?status=error')).json().backups).toEqual([]);

    expect((await call('DELETE', `/v3/p1/backups/${incremental.json().backup.id}`)).statusCode).toBe(202);
    await waitUntil('incremental gone', async () => (await call('GET', `/v3/p1/backups/${incremental.json().backup.id}`)).statusCode === 404);
    expect((await call('GET', `/v3/p1/backups/${summary.id}`)).json().backup.has_dependent_backups).toBe(false);
    expect((await call('DELETE', `/v3/p1/backups/${summary.id}`)).statusCode).toBe(202);
  });

  it('os-services: one cinder-backup per backend, backend_state from 3.49', async () => {
    const old = (await call('GET', '/v3/p1/os-services')).json().services;
    expect(old).toEqual([{ binary: 'cinder-backup', host: 'api@b', zone: 'nova', status: 'enabled', state: 'up', updated_at: expect.any(String), disabled_reason: null }]);
    const current = (await call('GET', '/v3/os-services?binary=cinder-backup', { version: '3.49', headers: { 'x-stowage-extensions': 'backend_state_reason' } })).json().services[0];
    expect(current).toMatchObject({ cluster: null, backend_state: 'up', backend_state_reason: null });
  });

  it('volumes: sparse file of N GiB, delete refused while backing up', async () => {
    const volume = (await call('POST', '/v3/p1/volumes', { body: { volume: { size: 2 } } })).json().volume;
    await waitUntil('available', async () => (await call('GET', `/v3/p1/volumes/${volume.id}`)).json().volume.status === 'available');
    const row = await service.store.getVolume(volume.id);
    const { stat } = await import('node:fs/promises');
    const info = await stat(row!.path);
    expect(info.size).toBe(2 * 1024 ** 3);
    expect(info.blocks * 512).toBeLessThan(1024 * 1024);
    expect(row!.path).toBe(join(dir.path, 'volumes', `volume-${volume.id}`));
    expect((await call('DELETE', `/v3/p1/volumes/${volume.id}`)).statusCode).toBe(202);
    await waitUntil('volume gone', async () => (await call('GET', `/v3/p1/volumes/${volume.id}`)).statusCode === 404);
  });
});
