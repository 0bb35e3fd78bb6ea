/**
 * The backup service with a GCS backend on the emulator (scripts/servers/gcs-emulator.mjs): up, a byte-identical
 * 256 MiB round trip, down when the emulator stops (a backup created meanwhile fails clearly), and up again through
 * periodic initialisation when it comes back.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { generateVolumeFile, sha256File, testServer } from '@stowage/testkit';
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

/** What gcs-emulator.mjs writes to <state>/endpoints.json. */
interface GcsEndpoints {
  readonly state: string;
  readonly script: string;
  readonly endpoint: string;
}

const server = testServer<GcsEndpoints>('gcsServer', 'the GCS emulator');
const BACKEND = { name: 'gcs1', zone: 'zone-gcs' } as const;

describe.skipIf(!server.requirement.available)('backup service on a GCS backend', () => {
  let service: ServiceProcess;
  let volumesDir = '';
  let removeDir: () => Promise<void> = async () => {};
  const emulator = async (action: 'stop-server' | 'start-server') => {
    const { script, state } = server.endpoints();
    await run(process.execPath, [script, action, state, 'emulator'], { timeout: 180_000 });
  };

  beforeAll(async () => {
    const dir = await tempDir('gcs-backend');
    removeDir = dir.remove;
    volumesDir = join(dir.path, 'volumes');
    const port = await freePort();
    const config = await writeConfig(dir.path, {
      host: 'node1',
      ...FAST_INTERVALS,
      backup_initialization_timeout: 10,
      backup_periodic_initialization: true,
      listen: `127.0.0.1:${port}`,
      state_path: join(dir.path, 'state'),
      volumes_dir: volumesDir,
      // The driver is installed in this package (the deployment), not in the app.
      plugin_paths: [PACKAGE_DIR],
      backends: [
        {
          name: BACKEND.name,
          driver: '@stowage/driver-gcs',
          availability_zone: BACKEND.zone,
          options: { api_endpoint: server.endpoints().endpoint, anonymous: true, bucket: 'stowage-it-gcs', timeout: 5, retry_attempts: 1 },
        },
      ],
    });
    service = await ServiceProcess.start(config, port);
  });

  afterAll(async () => {
    await service?.stop();
    await emulator('start-server').catch(() => undefined);
    await removeDir();
  });

  const state = async () => (await service.serviceStates())[`node1@${BACKEND.name}`];

  async function createVolume(name: string): Promise<string> {
    const created = await service.api('POST', '/volumes', { volume: { size: 1, name } });
    expect(created.status).toBe(202);
    const id = created.body.volume.id as string;
    await waitUntil('volume available', async () => (await service.api('GET', `/volumes/${id}`)).body.volume.status === 'available');
    return id;
  }

  async function backupStatus(id: string, until: (status: string) => boolean, timeoutMs = 300_000) {
    return waitUntil(
      `backup ${id}`,
      async () => {
        const { body } = await service.api('GET', `/backups/${id}`);
        return until(body.backup.status) ? body.backup : undefined;
      },
      timeoutMs,
      250,
    );
  }

  it('shows the GCS backend up', async () => {
    await waitUntil(`${BACKEND.name} up`, async () => (await state())?.state === 'up', 30_000);
  });

  it('round-trips a 256 MiB volume byte-identical through the API', async () => {
    const volumeId = await createVolume('vol-gcs');
    const volumeFile = join(volumesDir, `volume-${volumeId}`);
    // 256 MiB of data in the 1 GiB volume: random, zero and text runs; the rest of the file stays sparse.
    await generateVolumeFile(volumeFile, { size: 256 * MiB, seed: 'network-gcs' });
    await run('truncate', ['-s', '1G', volumeFile]);
    const original = await sha256File(volumeFile);

    let started = Date.now();
    const created = await service.api('POST', '/backups', { backup: { volume_id: volumeId, name: 'b-gcs', availability_zone: BACKEND.zone } });
    expect(created.status).toBe(202);
    const backup = await backupStatus(created.body.backup.id, (status) => status === 'available' || status === 'error');
    expect(backup.status, backup.fail_reason).toBe('available');
    expect(backup.availability_zone).toBe(BACKEND.zone);
    console.log(`gcs: backup of the 256 MiB volume through the API in ${Date.now() - started} ms`);

    const target = await createVolume('target-gcs');
    started = Date.now();
    const restored = await service.api('POST', `/backups/${backup.id}/restore`, { restore: { volume_id: target } });
    expect(restored.status).toBe(202);
    await waitUntil(
      'restore finished',
      async () => {
        const status = (await service.api('GET', `/volumes/${target}`)).body.volume.status;
        if (status === 'error_restoring' || status === 'error') throw new Error(`restore failed: volume ${status}`);
        return status === 'available';
      },
      300_000,
      250,
    );
    console.log(`gcs: restore through the API in ${Date.now() - started} ms`);
    expect(await sha256File(join(volumesDir, `volume-${target}`))).toBe(original);
  });

  it('goes down when the emulator stops, fails a backup clearly meanwhile, and comes back up by itself', async () => {
    const volumeId = await createVolume('vol-outage');
    // Stopping takes a while (the emulator exports its objects first); its port closes at the end.
    const stoppingAt = Date.now();
    await emulator('stop-server');
    const stoppedAt = Date.now();
    try {
      const created = await service.api('POST', '/backups', { backup: { volume_id: volumeId, name: 'while-down', availability_zone: BACKEND.zone } });
      expect(created.status).toBe(202);
      const failed = await backupStatus(created.body.backup.id, (status) => status === 'error', 120_000);
      expect(failed.fail_reason).toMatch(/gcs1/);
      // Heartbeats stop once the periodic check finds the storage gone; os-services says down after service_down_time.
      await waitUntil(`${BACKEND.name} down`, async () => (await state())?.state === 'down', 30_000);
      console.log(
        `gcs: backend down ${Date.now() - stoppedAt} ms after the emulator stopped (${Date.now() - stoppingAt} ms after it was told to; ` +
          `service_down_time ${FAST_INTERVALS.service_down_time} s)`,
      );
    } finally {
      await emulator('start-server');
    }
    const startedAt = Date.now();
    await waitUntil(`${BACKEND.name} up again`, async () => (await state())?.state === 'up', 60_000);
    console.log(`gcs: backend up ${Date.now() - startedAt} ms after the emulator started`);
    const again = await service.api('POST', '/backups', { backup: { volume_id: volumeId, name: 'after-recovery', availability_zone: BACKEND.zone } });
    const backup = await backupStatus(again.body.backup.id, (status) => status === 'available' || status === 'error');
    expect(backup.status, backup.fail_reason).toBe('available');
  });
});
