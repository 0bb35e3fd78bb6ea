/**
 * Readiness follows the database, liveness does not: a PostgreSQL cluster of this test's own (scripts/servers/
 * postgres.sh) is stopped under a running service and started again on the same port.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../src/config/load-config.js';
import { startService, type RunningService } from '../src/service.js';
import { POSTGRES_SCRIPT } from './global-setup.js';
import { freePort, tempDir, waitUntil } from './helpers/service-process.js';

const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

function postgres(command: 'start' | 'stop', state: string): { ok: boolean; url: string; output: string } {
  const run = spawnSync('bash', [POSTGRES_SCRIPT, command, state], { encoding: 'utf8', timeout: 120_000 });
  return { ok: run.status === 0, url: run.stdout.trim().split('\n').pop() ?? '', output: `${run.stdout}\n${run.stderr}` };
}

// The shared cluster of global-setup tells whether PostgreSQL can run here at all.
const problem = spawnSync('bash', ['-c', 'ls -d /usr/lib/postgresql/*/bin'], { encoding: 'utf8' }).status === 0 || process.getuid?.() === 0
  ? undefined
  : `PostgreSQL unavailable. Install it (apt-get install postgresql) or run as root so ${POSTGRES_SCRIPT} installs it`;
if (problem && process.env.CI === 'true') throw new Error(`PostgreSQL is required under CI: ${problem}`);

describe.skipIf(problem !== undefined)(`health probes on PostgreSQL${problem ? ` (skipped: ${problem})` : ''}`, () => {
  it('readiness fails while the database is unreachable and passes again after it returns; liveness stays up', async () => {
    const dir = await tempDir('health-pg');
    cleanups.push(dir.remove);
    // Its own folder directly under the temp dir: the cluster's owner (postgres, when root) must reach it.
    const state = await mkdtemp(join(tmpdir(), 'stowage-health-pg-'));
    cleanups.push(() => rm(state, { recursive: true, force: true }));
    const started = postgres('start', state);
    expect(started.ok, started.output).toBe(true);
    cleanups.push(async () => void postgres('stop', state));
    const admin = new pg.Client({ connectionString: started.url });
    await admin.connect();
    await admin.query('CREATE DATABASE stowage_health');
    await admin.end();

    const config = resolveConfig(
      {
        host: 'health', report_interval: 1, service_down_time: 3, listen: `127.0.0.1:${await freePort()}`, state_path: dir.path,
        database_url: started.url.replace(/\/[^/]*$/, '/stowage_health'),
        backends: [{ name: 'b', driver: 'stowage-driver-example', options: { root: join(dir.path, 'b') } }],
      },
      { baseDir: dir.path, source: 'test' },
    );
    const service: RunningService = await startService(config, pino({ level: 'silent' }));
    cleanups.push(() => service.stop());
    await service.initialized;
    const get = async (path: string, accept = 'application/json') => {
      const response = await fetch(`${service.url}${path}`, { headers: { accept } });
      return { status: response.status, text: await response.text() };
    };

    const ready = await get('/readyz');
    expect(ready.status).toBe(200);
    expect(JSON.parse(ready.text)).toEqual({ status: 'ready', database: 'ok', backends: [{ host: 'health@b', backend: 'b', state: 'up' }] });
    expect(await get('/healthcheck', 'text/plain')).toEqual({ status: 200, text: 'OK' });

    const stopped = postgres('stop', state);
    expect(stopped.ok, stopped.output).toBe(true);
    const unready = await waitUntil('readiness fails', async () => {
      const answer = await get('/readyz');
      return answer.status === 503 ? answer : undefined;
    }, 30_000, 200);
    expect(JSON.parse(unready.text)).toMatchObject({ status: 'not ready', database: expect.stringMatching(/^unreachable: /) });
    expect((await get('/healthcheck', 'text/plain')).status).toBe(503);
    expect(JSON.parse((await get('/healthcheck')).text)).toMatchObject({ reasons: [expect.stringMatching(/^database unreachable/)] });
    expect(await get('/livez')).toEqual({ status: 200, text: '{"status":"alive"}' });

    const restarted = postgres('start', state);
    expect(restarted.ok, restarted.output).toBe(true);
    expect(restarted.url).toBe(started.url);
    await waitUntil('readiness passes again', async () => (await get('/readyz')).status === 200, 30_000, 200);
    expect(await get('/livez')).toEqual({ status: 200, text: '{"status":"alive"}' });
  }, 180_000);
});
