/**
 * The backup service with a Swift backend and an S3 backend, both on the real Swift cluster (s3api in the same
 * proxy): up, byte-identical 256 MiB round trips, down when the proxy stops (a backup created meanwhile fails
 * clearly), and up again through periodic initialisation when it comes back.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { generateVolumeFile, sha256File, swiftTestServer } from '@stowage/testkit';
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

const server = swiftTestServer();

const BACKENDS = { swift: { name: 'swift1', zone: 'zone-swift' }, s3: { name: 's3one', zone: 'zone-s3' } } as const;

describe.skipIf(!server.requirement.available)('backup service on Swift and S3 backends', () => {
  let service: ServiceProcess;
  let volumesDir = '';
  let removeDir: () => Promise<void> = async () => {};
  const proxy = (action: 'stop-server' | 'start-server') => server.control(action, 'proxy');

  beforeAll(async () => {
    const dir = await tempDir('network-backends');
    removeDir = dir.remove;
    volumesDir = join(dir.path, 'volumes');
    const port = await freePort();
    const { authUrl, user, key, s3 } = server.endpoints();
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
      backends: [
        {
          name: BACKENDS.swift.name,
          driver: '@stowage/driver-swift',
          availability_zone: BACKENDS.swift.zone,
          options: { auth_url: authUrl, user, key, container: 'stowage-it-swift', retry_attempts: 1, retry_backoff: 0.2, timeout: 5 },
        },
        {
          name: BACKENDS.s3.name,
          driver: '@stowage/driver-s3',
          availability_zone: BACKENDS.s3.zone,
          options: {
            endpoint: s3.endpoint,
            region: s3.region,
            force_path_style: true,
            access_key: s3.accessKeyId,
            secret_key: s3.secretAccessKey,
            bucket: 'stowage-it-s3',
            timeout: 5,
            connect_timeout: 2,
            retry_max_attempts: 1,
          },
        },
      ],
    });
    service = await ServiceProcess.start(config, port);
  });

  afterAll(async () => {
    await service?.stop();
    await proxy('start-server').catch(() => undefined);
    await removeDir();
  });

  const state = async (backend: string) => (await service.serviceStates())[`node1@${backend}`];

  async function createVolume(name: string): Promise<string> {
    const created = await service.api('POST', '/volumes', { volume: { size: 1, name } });
    expect(created.status).toBe(202);
    const id = created.body.volume.id as string;
    await waitUntil('volume available', async () => (await service.api('GET', `/volumes/${id}`)).body.volume.status === 'available');
    return id;
  }

  async function backupStatus(id: string, until: (status: string) => boolean, timeoutMs = 120_000) {
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

  it('shows both backends up', async () => {
    for (const { name } of Object.values(BACKENDS)) {
      await waitUntil(`${name} up`, async () => (await state(name))?.state === 'up', 30_000);
    }
  });

  it.each(Object.entries(BACKENDS))('round-trips a 256 MiB volume byte-identical through %s', async (_kind, { zone }) => {
    const volumeId = await createVolume(`vol-${zone}`);
    const volumeFile = join(volumesDir, `volume-${volumeId}`);
    // 256 MiB of data in the 1 GiB volume: random, zero and text runs; the rest of the file stays sparse.
    await generateVolumeFile(volumeFile, { size: 256 * MiB, seed: `network-${zone}` });
    await run('truncate', ['-s', '1G', volumeFile]);
    const original = await sha256File(volumeFile);

    // The backup's availability zone (microversion 3.51) picks the backend.
    const created = await service.api('POST', '/backups', { backup: { volume_id: volumeId, name: `b-${zone}`, availability_zone: zone } });
    expect(created.status).toBe(202);
    const backup = await backupStatus(created.body.backup.id, (status) => status === 'available' || status === 'error');
    expect(backup.status, backup.fail_reason).toBe('available');
    expect(backup.availability_zone).toBe(zone);

    const target = await createVolume(`target-${zone}`);
    const restored = await service.api('POST', `/backups/${backup.id}/restore`, { restore: { volume_id: target } });
    expect(restored.status).toBe(202);
    await waitUntil(
      'restore finished',
      async () => {
        const status = (await service.api('GET', `/volumes/${target}`)).body.volume.status;
        if (status === 'error_restoring' || status === 'error') throw new Error(`restore failed: volume ${status}`);
        return status === 'available';
      },
      120_000,
      250,
    );
    expect(await sha256File(join(volumesDir, `volume-${target}`))).toBe(original);
  });

  it('goes down when Swift stops, fails a backup clearly meanwhile, and comes back up by itself', async () => {
    const volumeId = await createVolume('vol-outage');
    await proxy('stop-server');
    const stoppedAt = Date.now();
    try {
      // Heartbeats stop once the periodic check finds the storage gone; os-services says down within service_down_time.
      const created = await service.api('POST', '/backups', {
        backup: { volume_id: volumeId, name: 'while-down', availability_zone: BACKENDS.swift.zone },
      });
      expect(created.status).toBe(202);
      const failed = await backupStatus(created.body.backup.id, (status) => status === 'error');
      expect(failed.fail_reason).toMatch(/swift1/);
      for (const { name } of Object.values(BACKENDS)) {
        await waitUntil(`${name} down`, async () => (await state(name))?.state === 'down', 30_000);
      }
      console.log(`backends down ${Date.now() - stoppedAt} ms after the proxy stopped`);
    } finally {
      await proxy('start-server');
    }
    const startedAt = Date.now();
    for (const { name } of Object.values(BACKENDS)) {
      await waitUntil(`${name} up again`, async () => (await state(name))?.state === 'up', 60_000);
    }
    console.log(`backends up ${Date.now() - startedAt} ms after the proxy started`);
    const again = await service.api('POST', '/backups', {
      backup: { volume_id: volumeId, name: 'after-recovery', availability_zone: BACKENDS.swift.zone },
    });
    const backup = await backupStatus(again.body.backup.id, (status) => status === 'available' || status === 'error');
    expect(backup.status, backup.fail_reason).toBe('available');
  });
});
