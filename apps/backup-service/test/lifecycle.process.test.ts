/**
 * The spec's lifecycle with real processes and small intervals (report_interval 1 s, service_down_time 3 s,
 * periodic_interval 1 s): a posix backend whose path is an existing regular file, notifications to a webhook.
 */
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { FAST_INTERVALS, ServiceProcess, freePort, sleep, tempDir, waitUntil, writeConfig } from './helpers/service-process.js';
import { WebhookReceiver } from './helpers/webhook-receiver.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

async function setup(options: { periodic: boolean; backends?: (dir: string) => unknown[]; extra?: Record<string, unknown> }) {
  const dir = await tempDir('lifecycle');
  cleanups.push(dir.remove);
  const receiver = await new WebhookReceiver().start();
  cleanups.push(() => receiver.stop());
  const brokenPath = join(dir.path, 'not-a-directory');
  await writeFile(brokenPath, 'a regular file where the backup folder should be');
  const port = await freePort();
  const config = await writeConfig(dir.path, {
    host: 'node1',
    ...FAST_INTERVALS,
    backup_periodic_initialization: options.periodic,
    listen: `127.0.0.1:${port}`,
    state_path: join(dir.path, 'state'),
    notifications: [{ type: 'webhook', url: receiver.url, timeout_seconds: 2, retries: 1 }, { type: 'log', path: join(dir.path, 'notifications.log') }],
    backends: options.backends?.(dir.path) ?? [{ name: 'posix1', driver: '@stowage/driver-posix', options: { path: brokenPath, create_path: true } }],
    ...options.extra,
  });
  const service = await ServiceProcess.start(config, port);
  cleanups.push(() => service.kill());
  return { dir: dir.path, receiver, service, brokenPath, dbFile: join(dir.path, 'state', 'stowage.sqlite') };
}

async function createVolume(service: ServiceProcess): Promise<string> {
  const created = await service.api('POST', '/volumes', { volume: { size: 1, name: 'vol' } });
  expect(created.status).toBe(202);
  const id = created.body.volume.id as string;
  await waitUntil('volume available', async () => (await service.api('GET', `/volumes/${id}`)).body.volume.status === 'available');
  return id;
}

describe('a backend whose storage is unusable at start', () => {
  it('is down at once, reports init.error, fails creates clearly, deletes them without any service, and comes up once fixed', async () => {
    const { service, receiver, brokenPath, dbFile } = await setup({ periodic: true });

    // Down as soon as setup failed, with the reason (3.49's backend_state): no waiting out service_down_time.
    const down = await waitUntil('service reported down', async () => {
      const host = (await service.serviceStates())['node1@posix1'];
      return host?.backend_state_reason ? host : undefined;
    }, 5000);
    expect(down).toMatchObject({ state: 'down', backend_state: 'down' });
    expect(down.backend_state_reason).toMatch(/DRIVER_SETUP/);

    const initError = await waitUntil('backup.init.error at the webhook', async () => receiver.events('backup.init.error')[0], 5000);
    expect(initError.publisher_id).toBe('backup.node1');
    expect(initError.priority).toBe('ERROR');
    expect(initError.payload).toMatchObject({ host: 'node1@posix1', backend: 'posix1', driver: 'posix', attempt: 1, error_code: 'DRIVER_SETUP' });
    expect(String(initError.payload.error_message)).toContain('not-a-directory');
    expect(Date.parse(String(initError.payload.next_attempt_at))).toBeGreaterThan(Date.now() - 5000);
    expect(receiver.events('backup.init.start').length).toBeGreaterThanOrEqual(1);

    // A create is accepted (202, as Cinder) but ends in error with a clear reason and no host.
    const volumeId = await createVolume(service);
    const created = await service.api('POST', '/backups', { backup: { volume_id: volumeId, name: 'doomed' } });
    expect(created.status).toBe(202);
    const backupId = created.body.backup.id as string;
    const failed = await waitUntil('backup error', async () => {
      const { body } = await service.api('GET', `/backups/${backupId}`);
      return body.backup.status === 'error' ? body.backup : undefined;
    });
    expect(failed.fail_reason).toMatch(/Service not found for creating backup: no cinder-backup service is up and enabled in availability zone nova/);
    const row = new Database(dbFile, { readonly: true }).prepare('select host, service from backups where id = ?').get(backupId);
    expect(row).toEqual({ host: null, service: null });
    expect((await service.api('GET', `/volumes/${volumeId}`)).body.volume.status).toBe('available');

    // Deletable with no backup service up at all.
    expect((await service.serviceStates())['node1@posix1']!.state).toBe('down');
    const deleted = await service.api('DELETE', `/backups/${backupId}`);
    expect(deleted.status).toBe(202);
    expect((await service.api('GET', `/backups/${backupId}`)).status).toBe(404);
    expect(receiver.events('backup.delete.end').map((m) => m.payload.backup_id)).toContain(backupId);

    // Fix the storage: up within periodic_interval + report_interval, and init.end arrives.
    await rm(brokenPath);
    const fixedAt = Date.now();
    await waitUntil('service up', async () => (await service.serviceStates())['node1@posix1']?.state === 'up', 10_000, 50);
    const upAfterMs = Date.now() - fixedAt;
    process.stdout.write(`[measure] backend up ${upAfterMs} ms after the path was fixed (bound ${(FAST_INTERVALS.periodic_interval + FAST_INTERVALS.report_interval) * 1000} ms)\n`);
    expect(upAfterMs).toBeLessThanOrEqual((FAST_INTERVALS.periodic_interval + FAST_INTERVALS.report_interval) * 1000 + 250);
    const initEnd = await waitUntil('backup.init.end', async () => receiver.events('backup.init.end')[0], 5000);
    expect(initEnd.payload).toMatchObject({ host: 'node1@posix1', backend: 'posix1', driver: 'posix' });
    expect(Number(initEnd.payload.attempt)).toBeGreaterThan(1);
    // Never two attempts at once: starts and outcomes alternate.
    const sequence = receiver.messages.filter((m) => m.event_type.startsWith('backup.init.')).map((m) => m.event_type);
    for (let i = 0; i < sequence.length; i += 2) {
      expect(sequence[i]).toBe('backup.init.start');
      expect(['backup.init.error', 'backup.init.end']).toContain(sequence[i + 1] ?? 'backup.init.end');
    }

    // Now a backup works end to end.
    const good = await service.api('POST', '/backups', { backup: { volume_id: volumeId } });
    await waitUntil('backup available', async () => (await service.api('GET', `/backups/${good.body.backup.id}`)).body.backup.status === 'available');
    expect(await service.stop()).toBe(0);
  });

  it('with backup_periodic_initialization off, it stays down', async () => {
    const { service, receiver, brokenPath } = await setup({ periodic: false });
    await waitUntil('init.error', async () => receiver.events('backup.init.error')[0], 5000);
    expect(receiver.events('backup.init.error')[0]!.payload.next_attempt_at).toBeNull();
    await rm(brokenPath);
    await sleep(3500);
    expect((await service.serviceStates())['node1@posix1']!.state).toBe('down');
    expect(receiver.events('backup.init.start')).toHaveLength(1);
    expect(receiver.events('backup.init.end')).toHaveLength(0);
    expect(await service.stop()).toBe(0);
  });

  it('a doSetup that hangs is cut off after backup_initialization_timeout', async () => {
    const { service, receiver } = await setup({
      periodic: true,
      extra: { backup_initialization_timeout: 1, periodic_interval: 2 },
      backends: (dir) => [{ name: 'hung', driver: 'stowage-driver-example', options: { root: join(dir, 'hung'), hang_setup: true } }],
    });
    const start = await waitUntil('init.start', async () => receiver.events('backup.init.start')[0], 5000);
    const error = await waitUntil('init.error', async () => receiver.events('backup.init.error')[0], 5000);
    const elapsed = Date.parse(error.timestamp.replace(' ', 'T') + 'Z') - Date.parse(start.timestamp.replace(' ', 'T') + 'Z');
    process.stdout.write(`[measure] hung doSetup cut off after ${elapsed} ms (timeout 1000 ms)\n`);
    expect(elapsed).toBeGreaterThanOrEqual(1000);
    expect(elapsed).toBeLessThan(1500);
    expect(error.payload).toMatchObject({ backend: 'hung', driver: 'example', error_code: 'SETUP_TIMEOUT' });
    expect(String(error.payload.error_message)).toMatch(/did not finish within 1 s/);
    expect((await service.serviceStates())['node1@hung']!.state).toBe('down');
    // The hung setup never keeps the process from stopping.
    expect(await service.stop(10_000)).toBe(0);
  });
});
