/**
 * What operators see, against one running service (real listener, posix backend, report_interval 1 s):
 * `/metrics` during a 1 GiB backup of real data and while the storage is away, the live progress resource,
 * `stowage wait` and `stowage status` (the real CLI against the listener), the status page in headless Chromium
 * (skipped with a message when Chromium is missing, failing under CI), and bounded label sets after 100 operations.
 *
 * The backup's uploads pass a gate the test opens step by step, so "during the backup" is a state the test
 * holds, not a race against the machine's speed.
 */
import { spawnSync } from 'node:child_process';
import { mkdir, rename } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { StorageDriver } from '@stowage/core';
import { generateVolumeFile } from '@stowage/testkit';
import { pino } from 'pino';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../src/client/status-client.js';
import { resolveConfig } from '../src/config/load-config.js';
import { startService, type RunningService } from '../src/service.js';
import { APP_DIR, freePort, runCli, tempDir, waitUntil } from './helpers/service-process.js';

const GiB = 1024 ** 3;
const ARTIFACTS = resolve(APP_DIR, '.test-artifacts');
const CHROMIUM_SCRIPT = resolve(APP_DIR, '../../scripts/servers/chromium.sh');

/** Uploads wait while `allowedPuts` puts have started; `allow` moves the gate. */
let allowedPuts = Number.POSITIVE_INFINITY;
let putsStarted = 0;
const gateWaiters: Array<() => void> = [];
function allow(puts: number): void {
  allowedPuts = puts;
  for (const wake of gateWaiters.splice(0)) wake();
}
function gated(driver: StorageDriver): StorageDriver {
  return new Proxy(driver, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (property !== 'putObject' || typeof value !== 'function') return typeof value === 'function' ? value.bind(target) : value;
      return async (...args: Parameters<StorageDriver['putObject']>) => {
        while (putsStarted >= allowedPuts) await new Promise<void>((wake) => gateWaiters.push(wake));
        putsStarted += 1;
        return (value as StorageDriver['putObject']).apply(target, args);
      };
    },
  });
}

let dir: { path: string; remove: () => Promise<void> };
let service: RunningService;
let storage: string;
let browser: Browser | undefined;
let page: Page | undefined;
let chromiumSkip: string | undefined;

async function openBrowser(): Promise<void> {
  const found = spawnSync('bash', [CHROMIUM_SCRIPT, 'path'], { encoding: 'utf8', timeout: 600_000 });
  const executablePath = found.status === 0 ? found.stdout.trim().split('\n').pop() : undefined;
  if (!executablePath) {
    const problem = `Chromium unavailable (${(found.stderr || String(found.error)).trim()}); install it with: bash scripts/servers/chromium.sh path (as root) or apt-get install chromium`;
    if (process.env.CI === 'true') throw new Error(`Chromium is required under CI: ${problem}`);
    chromiumSkip = problem;
    return;
  }
  const { chromium } = await import('playwright-core');
  browser = await chromium.launch({ executablePath, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'], timeout: 60_000 });
  // A phone-sized viewport: the page must be readable there.
  page = await browser.newPage({ viewport: { width: 412, height: 915 }, deviceScaleFactor: 1 });
  await page.goto(`${service.url}/status`);
}

beforeAll(async () => {
  dir = await tempDir('observability');
  storage = join(dir.path, 'storage');
  await mkdir(storage);
  const config = resolveConfig(
    {
      host: 'obs', listen: `127.0.0.1:${await freePort()}`, state_path: dir.path,
      report_interval: 1, service_down_time: 3, periodic_interval: 1, backup_periodic_initialization: true,
      backup_compression_algorithm: 'none', quota_backups: -1, quota_backup_gigabytes: -1, quota_volumes: -1, quota_gigabytes: -1,
      backends: [{ name: 'posix1', driver: '@stowage/driver-posix', options: { path: storage, create_path: false } }],
    },
    { baseDir: dir.path, source: 'test' },
  );
  service = await startService(config, pino({ level: 'silent' }), {
    adjustBackends: (backends) =>
      backends.map((backend) => ({ ...backend, plugin: { ...backend.plugin, create: (options, context) => gated(backend.plugin.create(options, context)) } })),
  });
  await service.initialized;
  await openBrowser();
}, 600_000);

afterAll(async () => {
  allow(Number.POSITIVE_INFINITY);
  await browser?.close().catch(() => undefined);
  await service?.stop();
  await dir?.remove();
});

const call = async (method: string, url: string, body?: unknown) => {
  const response = await service.app.inject({ method: method as 'GET', url: `/v3/p1${url}`, headers: { 'x-auth-token': 'u1:p1' }, ...(body === undefined ? {} : { payload: body as object }) });
  return { status: response.statusCode, body: response.body ? response.json() : null };
};

/** `name{labels} value` lines of our own metrics. */
async function scrape(): Promise<Map<string, number>> {
  const response = await fetch(`${service.url}/metrics`);
  expect(response.status).toBe(200);
  const series = new Map<string, number>();
  for (const line of (await response.text()).split('\n')) {
    if (!line.startsWith('stowage_')) continue;
    const space = line.lastIndexOf(' ');
    series.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return series;
}

async function newVolume(sizeGiB = 1): Promise<{ id: string; path: string }> {
  const volume = (await call('POST', '/volumes', { volume: { size: sizeGiB } })).body.volume;
  await waitUntil('volume available', async () => (await call('GET', `/volumes/${volume.id}`)).body.volume.status === 'available');
  return { id: volume.id, path: (await service.store.getVolume(volume.id))!.path };
}

async function backupStatus(id: string): Promise<string | undefined> {
  const { status, body } = await call('GET', `/backups/${id}`);
  return status === 404 ? 'gone' : body.backup.status;
}

const backendState = async (): Promise<string | null> => (page ? page.getAttribute('[data-host="obs@posix1"]', 'data-state', { timeout: 1000 }).catch(() => null) : null);

describe('operators can see it', () => {
  it('the status page shows the backend up', async (context) => {
    if (!page) return context.skip(chromiumSkip);
    await waitUntil('page shows posix1 up', async () => (await backendState()) === 'up', 30_000, 200);
  });

  it('a 1 GiB backup: bytes rise and one operation runs in /metrics, the progress resource and the page; stowage wait follows it', async () => {
    const volume = await newVolume(1);
    await generateVolumeFile(volume.path, { size: GiB, seed: 'observability', mix: { random: 0.6, zero: 0.1, text: 0.3 } });
    const before = await scrape();
    expect(before.get('stowage_operations_running')).toBe(0);

    allow(putsStarted + 16);
    const backup = (await call('POST', '/backups', { backup: { volume_id: volume.id } })).body.backup;
    // The real CLI, not on a terminal: plain lines.
    const waiting = runCli(['wait', backup.id, '--interval', '0.2'], { env: { STOWAGE_URL: service.url }, timeoutMs: 300_000 });

    const read = 'stowage_bytes_read_total{backend="posix1"}';
    const first = await waitUntil('bytes read while held', async () => {
      const series = await scrape();
      return (series.get(read) ?? 0) > 0 && gateWaiters.length > 0 ? series : undefined;
    }, 120_000, 100);
    expect(first.get('stowage_operations_running')).toBe(1);
    expect(first.get('stowage_bytes_stored_total{backend="posix1"}')).toBeGreaterThan(0);
    const listed = (await call('GET', '/stowage/operations')).body.operations;
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({ backup_id: backup.id, kind: 'create', backend: 'posix1', phase: 'transferring', bytes_total: GiB });
    const firstPercent = Number(await waitUntil('page shows the operation', async () => (page ? page.getAttribute(`[data-backup="${backup.id}"]`, 'data-percent', { timeout: 1000 }) : '0'), 30_000, 200));

    allow(putsStarted + 48);
    const second = await waitUntil('bytes rise', async () => {
      const series = await scrape();
      return (series.get(read) ?? 0) > first.get(read)! && gateWaiters.length > 0 ? series : undefined;
    }, 120_000, 100);
    expect(second.get('stowage_operations_running')).toBe(1);
    if (page) {
      await waitUntil('progress bar advances on the page', async () => Number(await page!.getAttribute(`[data-backup="${backup.id}"]`, 'data-percent', { timeout: 1000 })) > firstPercent, 30_000, 200);
      await mkdir(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: join(ARTIFACTS, 'status-page-backup-running.png'), fullPage: true });
    }

    allow(Number.POSITIVE_INFINITY);
    await waitUntil('backup available', async () => (await backupStatus(backup.id)) === 'available', 240_000, 200);
    const waited = await waiting;
    expect(waited.code, waited.stdout + waited.stderr).toBe(0);
    expect(waited.stdout).toMatch(/create transferring/);
    expect(waited.stdout).not.toContain('\r');
    expect(waited.stdout.trim().split('\n').pop()).toBe(`backup ${backup.id}: available`);

    const after = await scrape();
    expect(after.get(read)).toBe(GiB);
    expect(after.get('stowage_operations_running')).toBe(0);
    expect(after.get('stowage_operations_total{kind="create",outcome="done"}')).toBe(1);
    expect(after.get('stowage_operation_duration_seconds_count{kind="create",outcome="done"}')).toBe(1);
  }, 400_000);

  it('storage stopped: the up gauge goes to 0 with the failure class, status and the page show it; back to 1 after recovery', async (context) => {
    await rename(storage, `${storage}.away`);
    // Put the storage back on every path: a failure here must not leave the next tests without a backend.
    try {
      const downAt = performance.now();
      await waitUntil('up gauge 0', async () => (await scrape()).get('stowage_backend_up{backend="posix1"}') === 0, 30_000, 50);
      const downSeconds = (performance.now() - downAt) / 1000;
      console.info(`observability: up gauge 0 after ${downSeconds.toFixed(2)} s (report_interval 1 s)`);
      const down = await scrape();
      expect(down.get('stowage_backend_last_failure{backend="posix1",reason="STORAGE_UNAVAILABLE"}') ?? down.get('stowage_backend_last_failure{backend="posix1",reason="DRIVER_SETUP"}')).toBe(1);

      await waitUntil('os-services down', async () => (await call('GET', '/os-services')).body.services[0].state === 'down', 30_000, 100);
      const status = await runCli(['status'], { env: { STOWAGE_URL: service.url } });
      expect(status.code).toBe(1);
      const lines = status.stdout.trim().split('\n');
      expect(lines.filter((line) => line.startsWith('backend '))).toEqual([expect.stringMatching(/^backend +obs@posix1 +down .*backup path/)]);
      expect(lines.filter((line) => line.startsWith('operation '))).toEqual(['operation  none running']);

      // A create while the only backend is down fails; `stowage wait` says so and exits 1.
      const volume = await newVolume(1);
      const failing = (await call('POST', '/backups', { backup: { volume_id: volume.id } })).body.backup;
      const waited = await runCli(['wait', failing.id, '--interval', '0.2'], { env: { STOWAGE_URL: service.url }, timeoutMs: 120_000 });
      expect(waited.code, waited.stdout).toBe(1);
      expect(waited.stdout).toMatch(/: error: /);

      if (page) {
        await waitUntil('page shows posix1 down', async () => (await backendState()) === 'down', 30_000, 200);
        // The page refreshes every 2 s: the refresh that showed the backend down may predate the failed create.
        await waitUntil('page lists the failed backup', async () => ((await page!.textContent('#failures')) ?? '').includes(failing.id), 30_000, 200);
        await page.screenshot({ path: join(ARTIFACTS, 'status-page-backend-down.png'), fullPage: true });
      }
      // Periodic setup retries while the storage is away, and each retry fails; wait for one to have failed, so the
      // counter below does not depend on how long the steps above took (CI's were faster than a retry interval).
      const setupFailures = 'stowage_backend_setup_failures_total{backend="posix1"}';
      await waitUntil('a setup retry failed', async () => ((await scrape()).get(setupFailures) ?? 0) > 0, 30_000, 100);
    } finally {
      await rename(`${storage}.away`, storage);
    }
    await waitUntil('up gauge 1', async () => (await scrape()).get('stowage_backend_up{backend="posix1"}') === 1, 30_000, 50);
    const up = await scrape();
    expect([...up.keys()].filter((key) => key.startsWith('stowage_backend_last_failure'))).toEqual([]);
    expect(up.get('stowage_backend_setup_failures_total{backend="posix1"}')).toBeGreaterThan(0);
    await waitUntil('os-services up', async () => (await call('GET', '/os-services')).body.services[0].state === 'up', 30_000, 100);
    const healthy = await runCli(['status'], { env: { STOWAGE_URL: service.url } });
    expect(healthy.stdout).toMatch(/^backend +obs@posix1 +up +heartbeat/m);
    if (!page) return context.skip(chromiumSkip);
    await waitUntil('page shows posix1 up again', async () => (await backendState()) === 'up', 30_000, 200);
    await page.screenshot({ path: join(ARTIFACTS, 'status-page-backend-up-again.png'), fullPage: true });
  }, 300_000);

  it('stowage wait draws a progress bar in place on a terminal', async () => {
    const volume = await newVolume(1);
    await generateVolumeFile(volume.path, { size: 256 * 1024 * 1024, seed: 'tty', mix: { random: 1, zero: 0, text: 0 } });
    allow(putsStarted + 4);
    const backup = (await call('POST', '/backups', { backup: { volume_id: volume.id } })).body.backup;
    let output = '';
    const waited = waitFor(backup.id, { url: service.url, token: 'u1:p1', requestTimeoutMs: 10_000, intervalMs: 100, timeoutMs: 240_000 }, { isTTY: true, write: (text) => void (output += text) });
    await waitUntil('bar drawn', async () => output.includes('\r'), 60_000, 50);
    allow(Number.POSITIVE_INFINITY);
    expect(await waited).toBe(0);
    expect(output).toMatch(/\r\x1b\[2Kbackup [0-9a-f-]+: create \[[#.]{20}\] +[\d.]+% /);
    expect(output.endsWith(`\nbackup ${backup.id}: available\n`)).toBe(true);
  }, 300_000);

  it('members see only their own project\'s operations', async () => {
    const other = await service.app.inject({ url: `/v3/p2/stowage/operations/${crypto.randomUUID()}`, headers: { 'x-auth-token': 'u2:p2' } });
    expect(other.statusCode).toBe(404);
  });

  it('label sets stay bounded after 100 operations', async () => {
    const volumes = await Promise.all(Array.from({ length: 10 }, () => newVolume(1)));
    const seriesAfter: number[] = [];
    for (let round = 0; round < 5; round += 1) {
      const backups = await Promise.all(volumes.map(async (volume) => (await call('POST', '/backups', { backup: { volume_id: volume.id } })).body.backup.id as string));
      for (const id of backups) await waitUntil('available', async () => (await backupStatus(id)) === 'available', 60_000, 50);
      for (const id of backups) expect((await call('DELETE', `/backups/${id}`)).status).toBe(202);
      for (const id of backups) await waitUntil('deleted', async () => (await backupStatus(id)) === 'gone', 60_000, 50);
      // Requests naming ids that do not exist count under their route template.
      await call('GET', `/backups/${crypto.randomUUID()}`);
      seriesAfter.push((await scrape()).size);
    }
    const series = await scrape();
    expect(series.get('stowage_operations_total{kind="create",outcome="done"}')).toBeGreaterThanOrEqual(51);
    expect(series.get('stowage_operations_total{kind="delete",outcome="done"}')).toBeGreaterThanOrEqual(50);
    // No id in any label: every series is named by config, fixed lists and route templates.
    expect([...series.keys()].filter((key) => /[0-9a-f]{8}-[0-9a-f]{4}-/.test(key))).toEqual([]);
    expect(seriesAfter.every((count) => count === seriesAfter[0])).toBe(true);
    expect(series.size).toBeLessThan(400);
  }, 400_000);
});
