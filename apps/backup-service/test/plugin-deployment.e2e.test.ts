/**
 * Plugins for real, as a deployer installs them: the app, core, the driver kit (contract and utils), the posix driver
 * and the out-of-tree example driver are packed with `pnpm pack`, installed with npm into a fresh deployment folder,
 * and the service is started there with a config naming both drivers. The example driver is also installed alone,
 * to prove a driver brings no native addon with it.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APP_DIR, EXAMPLE_DRIVER_DIR, ServiceProcess, freePort, runCli, tempDir, waitUntil, writeConfig } from './helpers/service-process.js';

const execFileAsync = promisify(execFile);
const REPO = resolve(APP_DIR, '../..');
const DRIVER_KIT = [join(REPO, 'packages/driver-contract'), join(REPO, 'packages/driver-utils')];
const PACKAGES = [join(REPO, 'packages/core'), ...DRIVER_KIT, join(REPO, 'packages/driver-posix'), APP_DIR, EXAMPLE_DRIVER_DIR];
const npmEnv = { ...process.env, npm_config_nodedir: resolve(dirname(process.execPath), '..') };

describe('a deployment installed from packed tarballs with npm', () => {
  let deployment: { path: string; remove: () => Promise<void> };
  let installProblem: string | undefined;
  let installSeconds = 0;

  beforeAll(async () => {
    deployment = await tempDir('deploy');
    const tarballs = join(deployment.path, 'tarballs');
    await mkdir(tarballs);
    for (const dir of PACKAGES) await execFileAsync('pnpm', ['pack', '--pack-destination', tarballs], { cwd: dir, timeout: 120_000 });
    const files = (await readdir(tarballs)).map((name) => join(tarballs, name));
    expect(files).toHaveLength(PACKAGES.length);
    const site = join(deployment.path, 'site');
    await mkdir(site);
    await writeFile(join(site, 'package.json'), JSON.stringify({ name: 'stowage-site', private: true }));
    const started = performance.now();
    try {
      await execFileAsync('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', ...files], {
        cwd: site,
        timeout: 540_000,
        env: npmEnv,
      });
    } catch (error) {
      installProblem = `npm install of the packed tarballs failed: ${String((error as { stderr?: string }).stderr ?? error).slice(-800)}`;
      if (process.env.CI === 'true') throw new Error(installProblem);
    }
    installSeconds = (performance.now() - started) / 1000;
    process.stdout.write(`[measure] npm install of ${files.length} tarballs + dependencies: ${installSeconds.toFixed(1)} s\n`);
  }, 600_000);

  afterAll(async () => {
    await deployment?.remove();
  });

  it('starts with both drivers resolved from the deployment, and both backends come up', async (context) => {
    if (installProblem) context.skip(installProblem);
    const site = join(deployment.path, 'site');
    const port = await freePort();
    const config = await writeConfig(site, {
      host: 'site',
      report_interval: 1,
      service_down_time: 3,
      listen: `127.0.0.1:${port}`,
      backends: [
        { name: 'posix', driver: '@stowage/driver-posix', options: { path: './backups' } },
        { name: 'example', driver: 'stowage-driver-example', options: { root: join(site, 'example-store') } },
      ],
    });
    const service = await ServiceProcess.start(config, port, { cwd: site, cli: join(site, 'node_modules/@stowage/backup-service/dist/cli.js') });
    try {
      const states = await waitUntil('both backends up', async () => {
        const all = await service.serviceStates();
        return all['site@posix']?.state === 'up' && all['site@example']?.state === 'up' ? all : undefined;
      }, 15_000);
      expect(Object.keys(states).sort()).toEqual(['site@example', 'site@posix']);
      // The example driver was loaded from the deployment's node_modules, not from the repository.
      expect(service.stderr).toMatch(new RegExp(`"from":"${site.replaceAll('/', '\\/')}\\/node_modules\\/stowage-driver-example\\/dist\\/index\\.js"`));
    } finally {
      expect(await service.stop()).toBe(0);
    }
  });

  it('installs the example driver on its own without @stowage/core or the native zstd addon', async (context) => {
    if (installProblem) context.skip(installProblem);
    const tarballs = join(deployment.path, 'tarballs');
    const kit = (await readdir(tarballs)).filter((name) => /^(stowage-driver-example|stowage-driver-contract|stowage-driver-utils)-/.test(name));
    expect(kit).toHaveLength(3);
    const alone = join(deployment.path, 'example-alone');
    await mkdir(alone);
    await writeFile(join(alone, 'package.json'), JSON.stringify({ name: 'example-alone', private: true }));
    // --offline: the example's whole dependency tree is in these tarballs; nothing may come from a registry.
    await execFileAsync('npm', ['install', '--offline', '--no-audit', '--no-fund', '--loglevel=error', ...kit.map((name) => join(tarballs, name))], {
      cwd: alone,
      timeout: 120_000,
      env: npmEnv,
    });
    const installed = await readdir(join(alone, 'node_modules'), { recursive: true });
    expect(installed.filter((path) => path.endsWith('zstd-napi')), 'zstd-napi installed for the example driver').toEqual([]);
    expect(existsSync(join(alone, 'node_modules/@stowage/core')), '@stowage/core installed for the example driver').toBe(false);
    expect(existsSync(join(alone, 'node_modules/@stowage/driver-contract/package.json'))).toBe(true);
    // And it loads there: the plugin module resolves its two dependencies from this folder alone.
    const { stdout } = await execFileAsync(
      process.execPath,
      ['--input-type=module', '-e', "const { default: plugin } = await import('stowage-driver-example'); console.log(plugin.contract, plugin.name);"],
      { cwd: alone },
    );
    expect(stdout.trim()).toBe('stowage.driver/v1 example');
    // In the full deployment the addon is there for the service's core, not for the driver.
    const site = join(deployment.path, 'site');
    expect(existsSync(join(site, 'node_modules/stowage-driver-example/node_modules/zstd-napi'))).toBe(false);
    expect(existsSync(join(site, 'node_modules/stowage-driver-example/node_modules/@stowage/core'))).toBe(false);
  });

  it('refuses a driver built for another contract version with exit 2', async (context) => {
    if (installProblem) context.skip(installProblem);
    const site = join(deployment.path, 'site');
    const fake = join(site, 'node_modules', 'stowage-driver-v2');
    await mkdir(fake, { recursive: true });
    await writeFile(join(fake, 'package.json'), JSON.stringify({ name: 'stowage-driver-v2', version: '2.0.0', type: 'module', main: 'index.js' }));
    await writeFile(join(fake, 'index.js'), "export default { contract: 'stowage.driver/v2', name: 'v2', version: '2.0.0', optionsSchema: {}, create() {} };\n");
    const config = await writeConfig(site, { listen: `127.0.0.1:${await freePort()}`, backends: [{ name: 'next', driver: 'stowage-driver-v2' }] }, 'v2.yaml');
    const result = await runCli(['serve', '--config', config], { cwd: site, cli: join(site, 'node_modules/@stowage/backup-service/dist/cli.js') });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('package stowage-driver-v2 implements driver contract "stowage.driver/v2", but this service speaks stowage.driver/v1');
  });
});
