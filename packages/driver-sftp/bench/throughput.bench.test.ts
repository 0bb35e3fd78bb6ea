/**
 * Throughput of a 256 MiB volume through the SFTP driver and the engine (backup, restore, byte-identical), next to
 * raw copies of the same bytes to the same sshd in the same run: OpenSSH's own `sftp` client (put and get of the
 * volume file) and a raw loop of engine-sized objects through ssh2-sftp-client with TCP no-delay. Prints numbers
 * with the machine's load; asserts only that the bytes came back identical (never timing).
 *
 *   pnpm --filter @stowage/driver-sftp bench
 */
import { generateVolumeFile, measureDriverThroughput, sha256File } from '@stowage/testkit';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import SftpClient from 'ssh2-sftp-client';
import { afterAll, describe, expect, it } from 'vitest';
import { createSftp, removeServerFolder, sshdTestServer } from '../test/sftp-test-helpers.js';

const run = promisify(execFile);
const MiB = 1024 * 1024;
const SIZE = 256 * MiB;
const server = sshdTestServer();

describe.skipIf(!server.requirement.available)('sftp throughput', () => {
  const path = `bench-${randomUUID().slice(0, 8)}`;
  let workDir = '';

  afterAll(async () => {
    await removeServerFolder(server.endpoints(), path);
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  it('a 256 MiB volume through the engine vs raw copies', { timeout: 900_000 }, async () => {
    const endpoints = server.endpoints();
    workDir = await mkdtemp(join(tmpdir(), 'stowage-sftp-bench-'));
    const load = () => loadavg().map((value) => value.toFixed(2)).join(' ');
    const lines = [`load before: ${load()}`];

    // OpenSSH's sftp client: the same bytes as one file, up and down.
    const volume = join(workDir, 'volume.raw');
    await generateVolumeFile(volume, { size: SIZE, seed: 'sftp-throughput' });
    const sftpBatch = async (commands: string) => {
      const child = execFile('sftp', ['-q', '-b', '-', '-i', endpoints.privateKeyPath, '-P', String(endpoints.port), '-o', 'BatchMode=yes',
        '-o', `UserKnownHostsFile=${endpoints.knownHostsPath}`, '-o', 'StrictHostKeyChecking=yes', `${endpoints.user}@${endpoints.host}`], { timeout: 600_000 });
      child.stdin?.end(commands);
      await new Promise<void>((resolve, reject) => child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`sftp exited ${code}`)))));
    };
    await sftpBatch(`-mkdir ${path}\n`);
    let started = performance.now();
    await sftpBatch(`put ${volume} ${path}/volume.raw\n`);
    const cliPut = (performance.now() - started) / 1000;
    started = performance.now();
    await sftpBatch(`get ${path}/volume.raw ${volume}.back\n`);
    const cliGet = (performance.now() - started) / 1000;
    expect(await sha256File(`${volume}.back`)).toBe(await sha256File(volume));
    await rm(`${volume}.back`);

    // The driver through the engine, and a raw loop of engine-sized objects through the same library.
    const driver = await createSftp(endpoints, path, { timeout: 120 }, 'sftp-bench');
    await driver.doSetup();
    const raw = new SftpClient('bench', { error: () => undefined, end: () => undefined, close: () => undefined });
    await raw.connect({ host: endpoints.host, port: endpoints.port, username: endpoints.user, privateKey: await readFile(endpoints.privateKeyPath) });
    (raw as unknown as { client: { setNoDelay(on: boolean): void } }).client.setNoDelay(true);
    await raw.mkdir(`${path}/raw`, true);
    const report = await measureDriverThroughput({
      driver,
      container: driver.defaultContainer,
      workDir,
      volumeSize: SIZE,
      seed: 'sftp-throughput',
      rawPut: async (index, data) => {
        await raw.put(data, `${path}/raw/${index}`);
      },
      rawGet: async (index) => ((await raw.get(`${path}/raw/${index}`)) as Buffer).length,
    });
    await raw.end();
    await driver.close?.();
    const rate = (seconds: number) => `${(SIZE / MiB / seconds).toFixed(0)} MiB/s (${seconds.toFixed(2)} s)`;
    lines.push(
      report.summary,
      `  raw sftp put    ${rate(cliPut)}   (OpenSSH sftp, one 256 MiB file)`,
      `  raw sftp get    ${rate(cliGet)}`,
      `  engine/raw sftp: backup ${(cliPut / report.seconds.backup).toFixed(2)}x, restore ${(cliGet / report.seconds.restore).toFixed(2)}x`,
      `load after: ${load()}`,
    );
    console.log(lines.join('\n'));
    expect(report.restoredIdentical).toBe(true);
  });
});
