/**
 * A 256 MiB volume through BackupEngine on NFS, byte-identical after restore, with the throughput of the backup and
 * the restore printed next to `nfs-cp` (libnfs-utils) copying the same bytes to and from the same server in the same
 * run, and a raw putObject/getObject loop of the driver. Prints, never asserts timing (the machine is shared).
 */
import { generateVolumeFile, measureDriverThroughput, sha256File } from '@stowage/testkit';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { createNfsDriver, nfsTestServer } from './nfs-test-helpers.js';

const run = promisify(execFile);
const MiB = 1024 * 1024;
const VOLUME = 256 * MiB;
const SEED = 'nfs-throughput';
const server = nfsTestServer();

describe.skipIf(!server.requirement.available)('nfs throughput', () => {
  const baseDir = `throughput-${randomUUID().slice(0, 8)}`;
  let workDir = '';

  afterAll(async () => {
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  it('round trips a 256 MiB volume byte-identical and reports throughput next to nfs-cp', { timeout: 900_000 }, async () => {
    const endpoints = server.endpoints();
    workDir = await mkdtemp(join(tmpdir(), 'stowage-nfs-throughput-'));
    const driver = await createNfsDriver(endpoints, 'nfs-throughput', { base_dir: baseDir });
    await driver.doSetup();
    const container = driver.defaultContainer;
    const load = () => loadavg().map((value) => value.toFixed(2)).join(' ');
    const loadBefore = load();

    const report = await measureDriverThroughput({
      driver,
      container,
      workDir,
      volumeSize: VOLUME,
      seed: SEED,
      rawPut: (index, data) => driver.putObject(container, `raw/${index}`, data, { length: data.length }),
      rawGet: async (index) => {
        let length = 0;
        for await (const part of await driver.getObject(container, `raw/${index}`)) length += part.length;
        return length;
      },
    });

    // nfs-cp of the same bytes (the same seed generates the same volume), one stream each way.
    const local = join(workDir, 'nfs-cp-volume');
    await generateVolumeFile(local, { size: VOLUME, seed: SEED });
    const name = `nfs-cp-${randomUUID()}`;
    const url = `nfs://${endpoints.server}${endpoints.export}/${baseDir}/${container}/${name}?nfsport=${endpoints.nfsPort}&mountport=${endpoints.mountPort}`;
    let started = performance.now();
    await run('nfs-cp', [local, url], { timeout: 600_000 });
    const cpUp = (performance.now() - started) / 1000;
    started = performance.now();
    await run('nfs-cp', [url, `${local}.back`], { timeout: 600_000 });
    const cpDown = (performance.now() - started) / 1000;
    expect(await sha256File(`${local}.back`)).toBe(await sha256File(local));
    await driver.deleteObject(container, name);

    const rate = (seconds: number) => `${(VOLUME / MiB / seconds).toFixed(0)} MiB/s (${seconds.toFixed(2)} s)`;
    console.log(
      [
        report.summary,
        `  nfs-cp upload   ${rate(cpUp)}`,
        `  nfs-cp download ${rate(cpDown)}`,
        `  engine/nfs-cp   backup ${(cpUp / report.seconds.backup).toFixed(2)}x, restore ${(cpDown / report.seconds.restore).toFixed(2)}x`,
        `  load average    before ${loadBefore}, after ${load()}`,
      ].join('\n'),
    );
    expect(report.restoredIdentical).toBe(true);
    expect(report.rawBytesRead).toBe(VOLUME);
    await driver.close?.();
  });
});
