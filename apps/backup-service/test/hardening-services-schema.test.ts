/**
 * Issue 11, item 10: os-services answers only the keys tempest's services schemas allow (additionalProperties:
 * false): Stowage's backend_state_reason is sent only to a caller who opts in with X-Stowage-Extensions.
 */
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../src/config/load-config.js';
import { startService, type RunningService } from '../src/service.js';
import { freePort, tempDir } from './helpers/service-process.js';

// tempest/lib/api_schema/response/volume/services.py (3.0) and v3_7/services.py (adds cluster).
const TEMPEST_SERVICE_KEYS = ['binary', 'disabled_reason', 'host', 'state', 'status', 'frozen', 'updated_at', 'zone', 'replication_status', 'active_backend_id', 'backend_state'];
const TEMPEST_SERVICE_KEYS_37 = [...TEMPEST_SERVICE_KEYS, 'cluster'];

let service: RunningService;
let dir: { path: string; remove: () => Promise<void> };

beforeAll(async () => {
  dir = await tempDir('services-schema');
  const config = resolveConfig(
    { host: 'svc', listen: `127.0.0.1:${await freePort()}`, state_path: dir.path, backends: [{ name: 'b', driver: 'stowage-driver-example', options: { root: join(dir.path, 'b') } }] },
    { baseDir: dir.path, source: 'test' },
  );
  service = await startService(config, pino({ level: 'silent' }));
  await service.initialized;
});

afterAll(async () => {
  await service?.stop();
  await dir?.remove();
});

const services = async (version: string, headers: Record<string, string> = {}) =>
  (await service.app.inject({ method: 'GET', url: '/v3/admin/os-services', headers: { 'x-auth-token': 'admin:admin', 'openstack-api-version': `volume ${version}`, ...headers } })).json()
    .services as Array<Record<string, unknown>>;

describe('os-services and tempest schemas', () => {
  it.each(['3.0', '3.7', '3.49', '3.70', 'latest'])('at %s answers only the keys tempest allows', async (version) => {
    const allowed = version === '3.0' ? TEMPEST_SERVICE_KEYS : TEMPEST_SERVICE_KEYS_37;
    const listed = await services(version);
    expect(listed.length).toBeGreaterThan(0);
    for (const entry of listed) expect(Object.keys(entry).filter((key) => !allowed.includes(key))).toEqual([]);
  });

  it('sends backend_state_reason when asked for with X-Stowage-Extensions', async () => {
    const [entry] = await services('3.70', { 'x-stowage-extensions': 'backend_state_reason' });
    expect(entry).toMatchObject({ backend_state: 'up', backend_state_reason: null });
  });
});
