/**
 * Plugins for real, as a deployer installs them: the app, core, the posix driver and the out-of-tree example
 * driver are packed with `pnpm pack`, installed with npm into a fresh deployment folder, and the service is
 * started there with a config naming both drivers.
 */
import { execFile } from 'node:child_process';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APP_DIR, EXAMPLE_DRIVER_DIR, ServiceProcess, freePort, runCli, tempDir, waitUntil, writeConfig } from './helpers/service-process.js';

const execFileAsync = promisify(execFile);
const REPO = resolve(APP_DIR, '../..');
const PACKAGES = [join(REPO, 'packages/core'), join(REPO, 'packages/driver-posix'), APP_DIR, EXAMPLE_DRIVER_DIR];

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
    expect(files).toHaveLength(4);
    const site = join(deployment.path, 'site');
    await mkdir(site);
    await writeFile(join(site, 'package.json'), JSON.stringify({ name: 'stowage-site', private: true }));
    const started = performance.now();
    try {
      await execFileAsync('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', ...files], {
        cwd: site,
        timeout: 540_000,
        env: { ...process.env, npm_config_nodedir: resolve(dirname(process.execPath), '..') },
      });
    } catch (error) {
      installProblem = `npm install of the packed tarballs failed: ${String((error as { stderr?: string }).stderr ?? error).slice(-800)}`;
      if (process.env.CI === 'true') throw new Error(installProblem);
    }
    installSeconds = (performance.now() - started) / 1000;
    process.stdout.write(`[measure] npm install of 4 tarballs + dependencies: ${installSeconds.toFixed(1)} s\n`);
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
