/**
 * What every test here does with the real `stowage serve` process: start it on some backends, create volumes, wait
 * for backups, round-trip a 256 MiB volume byte-identical; and, for a driver with one server, the whole scenario
 * (up, round trip, down while the server is stopped, up again by itself).
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { generateVolumeFile, sha256File } from '@stowage/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  FAST_INTERVALS,
  ServiceProcess,
  freePort,
  tempDir,
  waitUntil,
  writeConfig,
} from '../../../apps/backup-service/test/helpers/service-process.js';

const run = promisify(execFile);
const MiB = 1024 * 1024;
const PACKAGE_DIR = fileURLToPath(new URL('..', import.meta.url));

export interface BackendConfig {
  readonly name: string;
  readonly zone: string;
  readonly driver: string;
  readonly options: Record<string, unknown>;
}

export interface RunningService {
  readonly service: ServiceProcess;
  readonly volumesDir: string;
  remove(): Promise<void>;
}

/** Start the service on `backends` (given the port it listens on), with periodic initialisation and fast heartbeats. */
export async function startServiceOn(label: string, backends: (port: number) => readonly BackendConfig[]): Promise<RunningService> {
  const dir = await tempDir(label);
  const volumesDir = join(dir.path, 'volumes');
  const port = await freePort();
  const config = await writeConfig(dir.path, {
    host: 'node1',
    ...FAST_INTERVALS,
    backup_initialization_timeout: 10,
    backup_periodic_initialization: true,
    listen: `127.0.0.1:${port}`,
    state_path: join(dir.path, 'state'),
    volumes_dir: volumesDir,
    // The drivers are installed in this package (the deployment), not in the app.
    plugin_paths: [PACKAGE_DIR],
    backends: backends(port).map(({ name, zone, driver, options }) => ({ name, driver, availability_zone: zone, options })),
  });
  return { service: await ServiceProcess.start(config, port), volumesDir, remove: dir.remove };
}

/** The API calls the tests make, waiting as a user would; `timeoutMs` bounds a backup or restore on a loaded machine. */
export function serviceCalls(running: () => RunningService, timeoutMs: number) {
  const api = (...args: Parameters<ServiceProcess['api']>) => running().service.api(...args);
  const state = async (backend: string) => (await running().service.serviceStates())[`node1@${backend}`];

  async function createVolume(name: string): Promise<string> {
    const created = await api('POST', '/volumes', { volume: { size: 1, name } });
    expect(created.status).toBe(202);
    const id = created.body.volume.id as string;
    await waitUntil('volume available', async () => (await api('GET', `/volumes/${id}`)).body.volume.status === 'available');
    return id;
  }

  async function backupStatus(id: string, until: (status: string) => boolean, waitMs = timeoutMs) {
    return waitUntil(
      `backup ${id}`,
      async () => {
        const { body } = await api('GET', `/backups/${id}`);
        return until(body.backup.status) ? body.backup : undefined;
      },
      waitMs,
      250,
    );
  }

  /** Create a backup in `zone` and wait until it is available (or failed, which fails the test with its reason). */
  async function backUp(volumeId: string, name: string, zone: string) {
    const created = await api('POST', '/backups', { backup: { volume_id: volumeId, name, availability_zone: zone } });
    expect(created.status).toBe(202);
    const backup = await backupStatus(created.body.backup.id, (status) => status === 'available' || status === 'error');
    expect(backup.status, backup.fail_reason).toBe('available');
    return backup;
  }

  /** 256 MiB of data in a 1 GiB volume through a backup in `zone` and a restore into a new volume: byte-identical. */
  async function roundTrip(zone: string, label: string): Promise<void> {
    const { volumesDir } = running();
    const volumeId = await createVolume(`vol-${label}`);
    const volumeFile = join(volumesDir, `volume-${volumeId}`);
    // Random, zero and text runs; the rest of the file stays sparse.
    await generateVolumeFile(volumeFile, { size: 256 * MiB, seed: `network-${label}` });
    await run('truncate', ['-s', '1G', volumeFile]);
    const original = await sha256File(volumeFile);

    let started = Date.now();
    // The backup's availability zone (microversion 3.51) picks the backend.
    const backup = await backUp(volumeId, `b-${label}`, zone);
    expect(backup.availability_zone).toBe(zone);
    console.log(`${label}: backup of the 1 GiB volume (256 MiB data) through the API in ${Date.now() - started} ms`);

    const target = await createVolume(`target-${label}`);
    started = Date.now();
    const restored = await api('POST', `/backups/${backup.id}/restore`, { restore: { volume_id: target } });
    expect(restored.status).toBe(202);
    await waitUntil(
      'restore finished',
      async () => {
        const status = (await api('GET', `/volumes/${target}`)).body.volume.status;
        if (status === 'error_restoring' || status === 'error') throw new Error(`restore failed: volume ${status}`);
        return status === 'available';
      },
      timeoutMs,
      250,
    );
    console.log(`${label}: restore through the API in ${Date.now() - started} ms`);
    expect(await sha256File(join(volumesDir, `volume-${target}`))).toBe(original);
  }

  return { api, state, createVolume, backupStatus, backUp, roundTrip };
}

export interface SingleBackendScenario {
  /** For names and logs: `nfs`, `sftp`, `gcs`. */
  readonly label: string;
  /** What the describe block is about: "an NFS backend". */
  readonly title: string;
  /** The server the outage test stops, as its test name says it: "ganesha". */
  readonly serverName: string;
  /** False when the server could not start (outside CI the tests then skip, naming the command). */
  readonly available: boolean;
  readonly backend: Omit<BackendConfig, 'options'>;
  options(port: number): Record<string, unknown>;
  control(action: 'stop-server' | 'start-server'): Promise<void>;
  /** How long a backup or restore may take on a loaded machine. */
  readonly timeoutMs: number;
  /** How long the backup made while the server is down may take to fail (default `timeoutMs`). */
  readonly outageTimeoutMs?: number;
}

/** The service on one backend: up, a 256 MiB round trip, down while its server is stopped, up again by itself. */
export function describeSingleBackendService(scenario: SingleBackendScenario): void {
  const { label, backend, serverName } = scenario;
  describe.skipIf(!scenario.available)(`backup service on ${scenario.title}`, () => {
    let running: RunningService | undefined;
    const calls = serviceCalls(() => running!, scenario.timeoutMs);

    beforeAll(async () => {
      running = await startServiceOn(`${label}-backend`, (port) => [{ ...backend, options: scenario.options(port) }]);
    });

    afterAll(async () => {
      await running?.service.stop();
      await scenario.control('start-server').catch(() => undefined);
      await running?.remove();
    });

    it('shows the backend up', async () => {
      await waitUntil(`${backend.name} up`, async () => (await calls.state(backend.name))?.state === 'up', 30_000);
    });

    it('round-trips a 256 MiB volume byte-identical through the API', async () => {
      await calls.roundTrip(backend.zone, label);
    });

    it(`goes down within service_down_time when ${serverName} stops, fails a backup clearly meanwhile, and comes back up by itself`, async () => {
      const volumeId = await calls.createVolume(`vol-${label}-outage`);
      const stoppingAt = Date.now();
      await scenario.control('stop-server');
      const stoppedAt = Date.now();
      try {
        const created = await calls.api('POST', '/backups', { backup: { volume_id: volumeId, name: 'while-down', availability_zone: backend.zone } });
        expect(created.status).toBe(202);
        const failed = await calls.backupStatus(created.body.backup.id, (status) => status === 'error', scenario.outageTimeoutMs);
        // Two clear reasons, depending on which comes first: the create's own check fails on the backend (the
        // reason names it), or a heartbeat already took the backend down (no service is up in its zone).
        expect(failed.fail_reason).toMatch(new RegExp(`${backend.name}|no cinder-backup service is up and enabled in availability zone ${backend.zone}`));
        // Heartbeats stop once the periodic check finds the storage gone; bounded generously for a loaded machine,
        // the measured time is printed.
        await waitUntil(`${backend.name} down`, async () => (await calls.state(backend.name))?.state === 'down', 30_000, 100);
        console.log(
          `${label}: backend down ${Date.now() - stoppedAt} ms after ${serverName} stopped (${Date.now() - stoppingAt} ms after it was told to; ` +
            `service_down_time ${FAST_INTERVALS.service_down_time} s)`,
        );
      } finally {
        await scenario.control('start-server');
      }
      const startedAt = Date.now();
      await waitUntil(`${backend.name} up again`, async () => (await calls.state(backend.name))?.state === 'up', 60_000);
      console.log(`${label}: backend up ${Date.now() - startedAt} ms after ${serverName} started`);
      await calls.backUp(volumeId, 'after-recovery', backend.zone);
    });
  });
}
