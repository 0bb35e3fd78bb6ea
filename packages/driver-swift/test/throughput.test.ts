/**
 * A 256 MiB volume through BackupEngine on Swift, byte-identical after restore, with the throughput of the backup
 * and the restore printed next to a raw PUT/GET loop of the same bytes against the same proxy.
 */
import { measureDriverThroughput } from '@stowage/testkit';
import { createHash, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import plugin from '../src/index.js';
import { adminToken, deleteContainer, swiftTestServer } from './swift-test-helpers.js';

const MiB = 1024 * 1024;
const server = swiftTestServer();

describe.skipIf(!server.requirement.available)('swift throughput', () => {
  const container = `stowage-throughput-${randomUUID().slice(0, 8)}`;
  let workDir = '';

  afterAll(async () => {
    if (server.requirement.available) await deleteContainer(server.endpoints(), container);
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  it('round trips a 256 MiB volume byte-identical and reports throughput', { timeout: 600_000 }, async () => {
    const endpoints = server.endpoints();
    workDir = await mkdtemp(join(tmpdir(), 'stowage-swift-throughput-'));
    const result = await plugin.optionsSchema['~standard'].validate({
      auth_url: endpoints.authUrl,
      user: endpoints.user,
      key: endpoints.key,
      container,
    });
    if (result.issues) throw new Error(JSON.stringify(result.issues));
    const driver = plugin.create(result.value, { backendName: 'swift-throughput', statePath: '/nonexistent' });
    await driver.doSetup();
    const token = await adminToken(endpoints);
    const url = (index: number) => `${endpoints.storageUrl}/${container}/raw/${String(index).padStart(6, '0')}`;
    const report = await measureDriverThroughput({
      driver,
      container,
      workDir,
      volumeSize: 256 * MiB,
      seed: 'swift-throughput',
      rawPut: async (index, data) => {
        const response = await fetch(url(index), {
          method: 'PUT',
          headers: { 'X-Auth-Token': token, ETag: createHash('md5').update(data).digest('hex') },
          body: data,
        });
        await response.body?.cancel();
        expect(response.status).toBe(201);
      },
      rawGet: async (index) => {
        const response = await fetch(url(index), { headers: { 'X-Auth-Token': token } });
        return (await response.arrayBuffer()).byteLength;
      },
    });
    console.log(report.summary);
    expect(report.restoredIdentical).toBe(true);
    expect(report.rawBytesRead).toBe(256 * MiB);
  });
});
