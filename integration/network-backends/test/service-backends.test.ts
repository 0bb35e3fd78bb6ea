/**
 * The backup service with a Swift backend and an S3 backend, both on the real Swift cluster (s3api in the same
 * proxy): up, byte-identical 256 MiB round trips, down when the proxy stops (a backup created meanwhile fails
 * clearly), and up again through periodic initialisation when it comes back.
 */
import { swiftTestServer } from '@stowage/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitUntil } from '../../../apps/backup-service/test/helpers/service-process.js';
import { serviceCalls, startServiceOn, type RunningService } from './service-scenario.js';

const server = swiftTestServer();

const BACKENDS = { swift: { name: 'swift1', zone: 'zone-swift' }, s3: { name: 's3one', zone: 'zone-s3' } } as const;

describe.skipIf(!server.requirement.available)('backup service on Swift and S3 backends', () => {
  let running: RunningService | undefined;
  const calls = serviceCalls(() => running!, 120_000);
  const { state, createVolume, backupStatus } = calls;
  const proxy = (action: 'stop-server' | 'start-server') => server.control(action, 'proxy');

  beforeAll(async () => {
    const { authUrl, user, key, s3 } = server.endpoints();
    running = await startServiceOn('network-backends', () => [
      {
        ...BACKENDS.swift,
        driver: '@stowage/driver-swift',
        options: { auth_url: authUrl, user, key, container: 'stowage-it-swift', retry_attempts: 1, retry_backoff: 0.2, timeout: 5 },
      },
      {
        ...BACKENDS.s3,
        driver: '@stowage/driver-s3',
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
    ]);
  });

  afterAll(async () => {
    await running?.service.stop();
    await proxy('start-server').catch(() => undefined);
    await running?.remove();
  });

  it('shows both backends up', async () => {
    for (const { name } of Object.values(BACKENDS)) {
      await waitUntil(`${name} up`, async () => (await state(name))?.state === 'up', 30_000);
    }
  });

  it.each(Object.entries(BACKENDS))('round-trips a 256 MiB volume byte-identical through %s', async (_kind, { zone }) => {
    await calls.roundTrip(zone, zone);
  });

  it('goes down when Swift stops, fails a backup clearly meanwhile, and comes back up by itself', async () => {
    const volumeId = await createVolume('vol-outage');
    await proxy('stop-server');
    const stoppedAt = Date.now();
    try {
      // Heartbeats stop once the periodic check finds the storage gone; os-services says down within service_down_time.
      const created = await calls.api('POST', '/backups', {
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
    await calls.backUp(volumeId, 'after-recovery', BACKENDS.swift.zone);
  });
});
