/** `stowage check` and the start-up refusals (exit 2 with a message naming the backend, package and field). */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, runCli, tempDir, writeConfig } from './helpers/service-process.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

async function dir() {
  const created = await tempDir('cli');
  cleanups.push(created.remove);
  return created.path;
}

describe('stowage check', () => {
  it('prints one line per backend with its timing and exits non-zero when one fails', async () => {
    const root = await dir();
    await writeFile(join(root, 'file'), '');
    const config = await writeConfig(root, {
      backup_initialization_timeout: 1,
      backends: [
        { name: 'good', driver: '@stowage/driver-posix', options: { path: join(root, 'backups') } },
        { name: 'broken', driver: '@stowage/driver-posix', options: { path: join(root, 'file') } },
        { name: 'hung', driver: 'stowage-driver-example', options: { root: join(root, 'x'), hang_setup: true } },
      ],
    });
    const result = await runCli(['check', '--config', config]);
    const lines = result.stdout.trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^ok {6}good \(@stowage\/driver-posix \d+\.\d+\.\d+\) in \d+ ms$/);
    expect(lines[1]).toMatch(/^FAILED {2}broken \(@stowage\/driver-posix .*\) after \d+ ms: .*file/);
    expect(lines[2]).toMatch(/^FAILED {2}hung \(stowage-driver-example 0\.1\.0\) after 1\d{3} ms: doSetup of backend hung did not finish within 1 s$/);
    expect(result.code).toBe(1);
  });

  it('exits 0 when every backend sets up', async () => {
    const root = await dir();
    const config = await writeConfig(root, { backends: [{ name: 'good', driver: '@stowage/driver-posix', options: { path: join(root, 'b') } }] });
    const result = await runCli(['check', '--config', config]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^ok {6}good/);
  });
});

describe('start-up refusals exit 2', () => {
  it('names every bad config field', async () => {
    const root = await dir();
    const config = await writeConfig(root, { report_interval: -1, listen: 'nowhere', colour: 'blue', backends: [{ name: 'a b', driver: '' }] });
    const result = await runCli(['serve', '--config', config]);
    expect(result.code).toBe(2);
    for (const field of ['report_interval', 'listen', 'colour', 'backends[0].name', 'backends[0].driver']) expect(result.stderr).toContain(field);
  });

  it('names a driver package that is not installed, and how to install it', async () => {
    const root = await dir();
    const config = await writeConfig(root, { listen: `127.0.0.1:${await freePort()}`, backends: [{ name: 'cloud', driver: 'stowage-driver-nonexistent' }] });
    const result = await runCli(['serve', '--config', config]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('backend "cloud" (backends[0].driver): driver package stowage-driver-nonexistent is not installed');
    expect(result.stderr).toContain('npm install stowage-driver-nonexistent');
  });

  it('names the backend, package and field of a bad driver option', async () => {
    const root = await dir();
    const config = await writeConfig(root, { backends: [{ name: 'p', driver: '@stowage/driver-posix', options: { create_path: 'yes' } }] });
    const result = await runCli(['serve', '--config', config]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('backend "p": driver package @stowage/driver-posix rejected its options');
    expect(result.stderr).toContain('backends[0].options.path');
    expect(result.stderr).toContain('backends[0].options.create_path');
  });

  it('refuses a driver built for another contract version', async () => {
    const root = await dir();
    const fake = join(root, 'node_modules', 'stowage-driver-future');
    await mkdir(fake, { recursive: true });
    await writeFile(join(fake, 'package.json'), JSON.stringify({ name: 'stowage-driver-future', version: '9.0.0', type: 'module', exports: { '.': { import: './index.js' } } }));
    await writeFile(
      join(fake, 'index.js'),
      "export default { contract: 'stowage.driver/v2', name: 'future', version: '9.0.0', optionsSchema: { '~standard': { version: 1, vendor: 'x', validate: (v) => ({ value: v }) } }, create() { throw new Error('never'); } };\n",
    );
    const config = await writeConfig(root, { backends: [{ name: 'f', driver: 'stowage-driver-future' }] });
    const result = await runCli(['check', '--config', config]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('backend "f" (backends[0].driver): package stowage-driver-future implements driver contract "stowage.driver/v2", but this service speaks stowage.driver/v1');
  });

  it('refuses noauth on a non-loopback address unless forced', async () => {
    const root = await dir();
    const config = await writeConfig(root, { listen: '0.0.0.0:8776', backends: [{ name: 'p', driver: '@stowage/driver-posix', options: { path: join(root, 'b') } }] });
    const result = await runCli(['serve', '--config', config]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/listen: auth_strategy noauth trusts every caller; refusing to listen on non-loopback 0\.0\.0\.0/);
  });
});
