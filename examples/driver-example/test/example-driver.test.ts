import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BackupEngine, DriverSetupError, StorageUnavailableError, validateOptions, ConfigError, DRIVER_CONTRACT_V1 } from '@stowage/core';
import plugin, { type ExampleOptions } from '../src/index.js';

let folder: string;
beforeEach(async () => {
  folder = await mkdtemp(join(tmpdir(), 'stowage-example-'));
});
afterEach(async () => {
  await rm(folder, { recursive: true, force: true });
});

const context = { backendName: 'ex', statePath: '/nonexistent' };

describe('stowage-driver-example', () => {
  it('declares the v1 contract', () => {
    expect(plugin.contract).toBe(DRIVER_CONTRACT_V1);
    expect(plugin.name).toBe('example');
  });

  it('names every bad option', async () => {
    const error = await validateOptions(plugin.optionsSchema, { setup_delay_ms: -1, colour: 'red' }, 'backends[0].options').catch((e: unknown) => e);
    // ConfigError.isInstance does not type-check (constructor signature differs): match on the code.
    expect((error as ConfigError).code).toBe('CONFIG');
    const paths = (error as ConfigError).issues.map((issue) => issue.path).sort();
    expect(paths).toEqual(['backends[0].options.colour', 'backends[0].options.root', 'backends[0].options.setup_delay_ms']);
  });

  it('sets up, backs up and restores through the engine', async () => {
    const options = await validateOptions<ExampleOptions>(plugin.optionsSchema, { root: join(folder, 'store') }, 'o');
    const driver = plugin.create(options, context);
    await driver.doSetup();
    await driver.checkAvailable();
    const engine = new BackupEngine({ driver, backendName: 'ex', chunkSize: 64 * 1024, blockSize: 4096 });
    const data = Buffer.alloc(200_000, 7);
    const source = { size: data.length, read: async (b: Buffer, p: number) => data.copy(b, 0, p, p + b.length), close: async () => {} };
    const result = await engine.backup({ backupId: 'b1', volumeId: 'v1', container: 'backups', prefix: 'v1/b1/', source });
    expect(result.objectCount).toBeGreaterThan(0);
    const restored = Buffer.alloc(data.length);
    await engine.restore({
      container: 'backups',
      prefix: 'v1/b1/',
      target: { prepare: async () => {}, write: async (d: Buffer, p: number) => void d.copy(restored, p), flush: async () => {}, close: async () => {} },
    });
    expect(restored.equals(data)).toBe(true);
    await engine.delete({ container: 'backups', prefix: 'v1/b1/' });
    const left: string[] = [];
    for await (const key of driver.listObjects('backups', 'v1/')) left.push(key);
    expect(left).toEqual([]);
  });

  it('fails setup while the marker exists, and when the root is a regular file', async () => {
    const marker = join(folder, 'down');
    await writeFile(marker, '');
    const driver = plugin.create(await validateOptions<ExampleOptions>(plugin.optionsSchema, { root: join(folder, 's'), fail_setup_while_exists: marker }, 'o'), context);
    await expect(driver.doSetup()).rejects.toSatisfy((e) => DriverSetupError.isInstance(e));
    await expect(driver.checkAvailable()).rejects.toSatisfy((e) => StorageUnavailableError.isInstance(e));
    await rm(marker);
    await driver.doSetup();
    const file = join(folder, 'file');
    await writeFile(file, '');
    const broken = plugin.create(await validateOptions<ExampleOptions>(plugin.optionsSchema, { root: file }, 'o'), context);
    await expect(broken.doSetup()).rejects.toThrow(/cannot write/);
  });
});
