import { validateOptions, type DriverContext, type DriverPlugin, type StorageDriver } from '@stowage/core';
import { tmpdir } from 'node:os';

/**
 * A driver made the way the service makes it: the raw options validated by the plugin's own schema (a bad test
 * option fails with every bad field named), then the plugin's factory with a test context.
 */
export async function createFromPlugin<Options>(
  plugin: DriverPlugin<Options>,
  rawOptions: unknown,
  context: Partial<DriverContext> = {},
): Promise<StorageDriver> {
  const options = await validateOptions(plugin.optionsSchema, rawOptions, `test options of ${plugin.name}`);
  return plugin.create(options, { backendName: `${plugin.name}-test`, statePath: tmpdir(), ...context });
}
