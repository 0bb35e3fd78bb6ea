/**
 * Loads the driver plugin of every configured backend.
 *
 * Driver packages are resolved from the deployment, not only from this app's own dependencies: a deployer
 * installs `@stowage/backup-service` and the drivers they chose side by side (npm or pnpm) and runs the service
 * there. The search order is: the config file's folder and its ancestors' `node_modules`, each `plugin_paths`
 * entry, then the app's own dependencies.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  ConfigError,
  ContractError,
  DRIVER_CONTRACT_V1,
  StowageError,
  validateOptions,
  type DriverPlugin,
  type OptionsSchema,
} from '@stowage/core';
import type { BackendConfig } from '../config/config-schema.js';

export interface LoadedBackend {
  readonly config: BackendConfig;
  readonly index: number;
  readonly plugin: DriverPlugin;
  /** Options after the driver's schema (defaults applied). */
  readonly options: unknown;
  /** Where the package was loaded from, for logs. */
  readonly resolvedFrom: string;
}

/** A configured driver package is not installed where the service looks. */
export class PluginNotFoundError extends ConfigError {}

export async function loadBackends(backends: readonly BackendConfig[], searchPaths: readonly string[]): Promise<LoadedBackend[]> {
  const loaded: LoadedBackend[] = [];
  const problems: string[] = [];
  for (const [index, backend] of backends.entries()) {
    try {
      loaded.push(await loadBackend(backend, index, searchPaths));
    } catch (error) {
      if (StowageError.isStowageError(error)) problems.push(error.message);
      else throw error;
    }
  }
  if (problems.length > 0) throw new ConfigError(problems.join('\n'));
  return loaded;
}

export async function loadBackend(backend: BackendConfig, index: number, searchPaths: readonly string[]): Promise<LoadedBackend> {
  const where = `backend "${backend.name}" (backends[${index}].driver)`;
  const { module, resolvedFrom } = await importDriverPackage(backend.driver, searchPaths, where);
  const plugin = checkPluginShape(module, backend.driver, where);
  let options: unknown;
  try {
    options = await validateOptions(plugin.optionsSchema, backend.options, `backends[${index}].options`);
  } catch (error) {
    if (ConfigError.isInstance(error)) {
      throw new ConfigError(
        `backend "${backend.name}": driver package ${backend.driver} rejected its options; fix these fields in the config file (see the driver's README for its options):\n${error.message.split('\n').slice(1).join('\n')}`,
        (error as ConfigError).issues,
        { cause: error },
      );
    }
    throw error;
  }
  return { config: backend, index, plugin, options, resolvedFrom };
}

async function importDriverPackage(
  packageName: string,
  searchPaths: readonly string[],
  where: string,
): Promise<{ module: unknown; resolvedFrom: string }> {
  const entry = resolvePackageEntry(packageName, searchPaths);
  if (entry) {
    return { module: await importOrExplain(pathToFileURL(entry).href, packageName, where), resolvedFrom: entry };
  }
  // The app's own dependencies (e.g. the bundled posix driver).
  try {
    return { module: await import(packageName), resolvedFrom: `${packageName} (a dependency of @stowage/backup-service)` };
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code !== 'ERR_MODULE_NOT_FOUND' || !String((error as Error).message).includes(packageName)) {
      throw new ContractError(`${where}: driver package ${packageName} failed to load: ${(error as Error).message}`, { cause: error });
    }
    const searched = searchPaths.map((path) => `  - ${path} (and its node_modules)`).join('\n');
    throw new PluginNotFoundError(
      `${where}: driver package ${packageName} is not installed. Looked in:\n${searched}\n  - the dependencies of @stowage/backup-service\n` +
        `Install it next to the config file (npm install ${packageName}), add its folder to plugin_paths, or fix the package name.`,
      [{ path: where, message: `package ${packageName} not found` }],
      { cause: error },
    );
  }
}

async function importOrExplain(url: string, packageName: string, where: string): Promise<unknown> {
  try {
    return await import(url);
  } catch (error) {
    throw new ContractError(`${where}: driver package ${packageName} failed to load: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * Find `packageName`'s ESM entry under the search paths. Node's `createRequire().resolve` applies the `require`
 * export condition (ESM-only packages then fail) and `import.meta.resolve` with a parent needs a flag on
 * Node 20, so the lookup walks `node_modules` folders and reads the package's `exports` itself.
 */
export function resolvePackageEntry(packageName: string, searchPaths: readonly string[]): string | undefined {
  for (const start of searchPaths) {
    for (const modules of nodeModulesCandidates(resolve(start))) {
      const packageDir = join(modules, ...packageName.split('/'));
      const manifestPath = join(packageDir, 'package.json');
      if (!existsSync(manifestPath)) continue;
      const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { exports?: unknown; main?: unknown };
      const relativeEntry = exportEntry(manifest.exports) ?? (typeof manifest.main === 'string' ? manifest.main : 'index.js');
      return resolve(packageDir, relativeEntry);
    }
  }
  return undefined;
}

function* nodeModulesCandidates(start: string): Generator<string> {
  if (start.endsWith('node_modules')) yield start;
  let dir = start;
  for (;;) {
    yield join(dir, 'node_modules');
    const parent = dirname(dir);
    if (parent === dir) return;
    dir = parent;
  }
}

function exportEntry(exports: unknown): string | undefined {
  if (typeof exports === 'string') return exports;
  if (typeof exports !== 'object' || exports === null) return undefined;
  const record = exports as Record<string, unknown>;
  const root = '.' in record ? record['.'] : record;
  if (typeof root === 'string') return root;
  if (typeof root !== 'object' || root === null) return undefined;
  for (const condition of ['import', 'node', 'default']) {
    const target = (root as Record<string, unknown>)[condition];
    if (typeof target === 'string') return target;
    const nested = exportEntry(target);
    if (nested) return nested;
  }
  return undefined;
}

/** Check the contract version and shape of a driver package's default export. */
export function checkPluginShape(module: unknown, packageName: string, where: string): DriverPlugin {
  const candidate = (module as { default?: unknown } | null)?.default ?? module;
  const plugin = candidate as Partial<Record<keyof DriverPlugin, unknown>> | null;
  if (typeof plugin !== 'object' || plugin === null) {
    throw new ContractError(`${where}: package ${packageName} has no default export; a Stowage driver exports a DriverPlugin as default`);
  }
  if (plugin.contract !== DRIVER_CONTRACT_V1) {
    throw new ContractError(
      `${where}: package ${packageName} implements driver contract ${JSON.stringify(plugin.contract ?? null)}, but this service speaks ${DRIVER_CONTRACT_V1}. ` +
        `Install a version of ${packageName} built for ${DRIVER_CONTRACT_V1}, or a @stowage/backup-service that supports its contract.`,
    );
  }
  const problems: string[] = [];
  if (typeof plugin.name !== 'string' || plugin.name === '') problems.push('name (a non-empty string)');
  if (typeof plugin.version !== 'string') problems.push('version (a string)');
  if (typeof plugin.create !== 'function') problems.push('create (a function)');
  const schema = plugin.optionsSchema as OptionsSchema | undefined;
  if (typeof schema?.['~standard']?.validate !== 'function') problems.push('optionsSchema (a Standard Schema with ~standard.validate)');
  if (problems.length > 0) {
    throw new ContractError(`${where}: package ${packageName} claims ${DRIVER_CONTRACT_V1} but lacks: ${problems.join(', ')}`);
  }
  return plugin as DriverPlugin;
}
