/** End to end with the real OpenStack client: cinder --os-auth-type noauth --os-endpoint http://127.0.0.1:PORT/v3. */
import { randomBytes } from 'node:crypto';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CinderClient, ensureCinderClient } from './helpers/cinder-client.js';
import { ServiceProcess, freePort, tempDir, waitUntil, writeConfig } from './helpers/service-process.js';

const problem = ensureCinderClient();
if (problem && process.env.CI === 'true') throw new Error(`the cinder client is required under CI: ${problem}`);

describe.skipIf(problem !== undefined)(`cinder client end to end${problem ? ` (skipped: ${problem})` : ''}`, () => {
  let service: ServiceProcess;
  let cinder: CinderClient;
  let root: { path: string; remove: () => Promise<void> };

  beforeAll(async () => {
    root = await tempDir('e2e');
    const port = await freePort();
    const config = await writeConfig(root.path, {
      host: 'e2e',
      report_interval: 1,
      service_down_time: 3,
      listen: `127.0.0.1:${port}`,
      state_path: join(root.path, 'state'),
      backends: [{ name: 'posix', driver: '@stowage/driver-posix', options: { path: join(root.path, 'backups') } }],
    });
    service = await ServiceProcess.start(config, port);
    cinder = new CinderClient(service.url);
  });

  afterAll(async () => {
    const code = await service?.stop();
    await root?.remove();
    expect(code).toBe(0);
  });

  it('create volume, write data, backup-create/show/list/delete, service-list', async () => {
    const volume = CinderClient.properties(await cinder.run('create', '--name', 'e2e-volume', '1'));
    expect(volume.size).toBe('1');
    const volumeId = volume.id!;
    await waitUntil('volume available', async () => CinderClient.properties(await cinder.run('show', volumeId)).status === 'available', 20_000, 250);

    // Random data at a few places of the 1 GiB sparse file.
    const file = await open(join(root.path, 'state', 'volumes', `volume-${volumeId}`), 'r+');
    for (const offset of [0, 300 * 1024 * 1024, 1024 * 1024 * 1024 - 4 * 1024 * 1024]) {
      await file.write(randomBytes(4 * 1024 * 1024), 0, 4 * 1024 * 1024, offset);
    }
    await file.close();

    const created = CinderClient.properties(await cinder.run('backup-create', '--name', 'e2e-backup', volumeId));
    const backupId = created.id!;
    expect(created.volume_id).toBe(volumeId);
    const shown = await waitUntil(
      'backup available',
      async () => {
        const properties = CinderClient.properties(await cinder.run('backup-show', backupId));
        if (properties.status === 'error') throw new Error(`backup failed: ${properties.fail_reason}`);
        return properties.status === 'available' ? properties : undefined;
      },
      60_000,
      500,
    );
    expect(shown).toMatchObject({ id: backupId, name: 'e2e-backup', volume_id: volumeId, size: '1', is_incremental: 'False', container: 'backups' });
    expect(Number(shown.object_count)).toBeGreaterThan(0);

    const listed = CinderClient.rows(await cinder.run('backup-list'));
    expect(listed).toContainEqual(expect.objectContaining({ ID: backupId, Status: 'available', Name: 'e2e-backup' }));

    const services = CinderClient.rows(await cinder.run('service-list'));
    expect(services).toContainEqual(expect.objectContaining({ Binary: 'cinder-backup', Host: 'e2e@posix', State: 'up', Status: 'enabled' }));

    expect(await cinder.run('backup-delete', backupId)).toContain(`Request to delete backup ${backupId} has been accepted.`);
    await waitUntil('backup gone', async () => !CinderClient.rows(await cinder.run('backup-list')).some((row) => row.ID === backupId), 20_000, 250);
  });
});
