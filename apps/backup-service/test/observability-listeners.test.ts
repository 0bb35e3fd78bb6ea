/** Where the operator endpoints answer: `metrics_listen` moves `/metrics` off the API; the page's noauth rule. */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { resolveConfig } from '../src/config/load-config.js';
import { reasonClass } from '../src/observability/metrics.js';
import { startService, type RunningService } from '../src/service.js';
import { freePort, tempDir } from './helpers/service-process.js';
import { sha256Hex } from './helpers/volume-files.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

async function start(extra: Record<string, unknown>): Promise<RunningService> {
  const dir = await tempDir('listeners');
  cleanups.push(dir.remove);
  const config = resolveConfig(
    { host: 'l', listen: `127.0.0.1:${await freePort()}`, state_path: dir.path, backends: [{ name: 'b', driver: 'stowage-driver-example', options: { root: join(dir.path, 'b') } }], ...extra },
    { baseDir: dir.path, source: 'test' },
  );
  const service = await startService(config, pino({ level: 'silent' }));
  cleanups.push(() => service.stop());
  await service.initialized;
  return service;
}

describe('operator endpoints', () => {
  it('metrics_listen serves /metrics on its own address and not on the API', async () => {
    const port = await freePort();
    const service = await start({ metrics_listen: `127.0.0.1:${port}` });
    expect(service.metricsUrl).toBe(`http://127.0.0.1:${port}`);
    const scraped = await fetch(`${service.metricsUrl}/metrics`);
    expect(scraped.status).toBe(200);
    expect(scraped.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(await scraped.text()).toMatch(/^stowage_backend_up\{backend="b"\} 1$/m);
    // (With a token: without one, noauth answers every path with its 204 token hand-out.)
    expect((await fetch(`${service.url}/metrics`, { headers: { 'x-auth-token': 'a:p' } })).status).toBe(404);
    // Health stays on the API's listener, where load balancers probe.
    expect((await fetch(`${service.url}/readyz`)).status).toBe(200);
  });

  it('under noauth the status page answers loopback clients only; its data needs a token like the API', async () => {
    const service = await start({});
    expect((await service.app.inject({ url: '/status', remoteAddress: '127.0.0.1' })).statusCode).toBe(200);
    const remote = await service.app.inject({ url: '/status', remoteAddress: '192.0.2.7' });
    expect(remote.statusCode).toBe(403);
    expect(remote.json().forbidden.message).toMatch(/loopback/);
    const page = await fetch(`${service.url}/status`);
    expect(page.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(await page.text()).toContain('data-auth="noauth"');
    // No token: noauth's 204 token hand-out, as on every API route.
    expect((await service.app.inject({ url: '/v3/stowage/status' })).statusCode).toBe(204);
    expect((await service.app.inject({ url: '/v3/stowage/status', headers: { 'x-auth-token': 'a:p' } })).statusCode).toBe(200);
  });

  it('under tokens the page is served to anyone but its data to admins only; members see their own progress only', async () => {
    const dir = await tempDir('listeners-tokens');
    cleanups.push(dir.remove);
    const tokens = join(dir.path, 'tokens.yaml');
    await writeFile(
      tokens,
      `tokens:\n  - {sha256: ${sha256Hex('admin-t')}, user_id: ops, project_id: admin, roles: [admin]}\n  - {sha256: ${sha256Hex('member-t')}, user_id: alice, project_id: pa, roles: [member]}\n`,
    );
    const service = await start({ auth_strategy: 'tokens', auth_tokens_file: tokens });
    const page = await service.app.inject({ url: '/status', remoteAddress: '192.0.2.7' });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('data-auth="token"');
    expect((await service.app.inject({ url: '/v3/stowage/status' })).statusCode).toBe(401);
    expect((await service.app.inject({ url: '/v3/stowage/status', headers: { 'x-auth-token': 'member-t' } })).statusCode).toBe(403);
    expect((await service.app.inject({ url: '/v3/stowage/status', headers: { 'x-auth-token': 'admin-t' } })).statusCode).toBe(200);
    expect((await service.app.inject({ url: '/v3/pa/stowage/operations', headers: { 'x-auth-token': 'member-t' } })).json()).toEqual({ operations: [] });
    // Another project's URL is refused for a member, as on every Cinder route.
    expect((await service.app.inject({ url: '/v3/pb/stowage/operations', headers: { 'x-auth-token': 'member-t' } })).statusCode).toBe(400);
    // Probes and metrics need no token.
    expect((await service.app.inject({ url: '/readyz' })).statusCode).toBe(200);
    expect((await service.app.inject({ url: '/metrics' })).statusCode).toBe(200);
  });

  it('failure codes become bounded label values', () => {
    expect(reasonClass('STORAGE_UNAVAILABLE')).toBe('STORAGE_UNAVAILABLE');
    expect(reasonClass(null)).toBe('none');
    expect(reasonClass('some message: /path/x')).toBe('OTHER');
    expect(reasonClass('E'.repeat(80))).toBe('OTHER');
  });
});
