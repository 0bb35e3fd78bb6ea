import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { DriverSpec } from '../child/protocol.js';
import { REPO_ROOT } from '../options.js';
import type { DriverTarget, RawTransfer, StartedTarget } from './driver-target.js';
import { serverScriptPath, startServerScript, type ServerScript } from './server-script.js';

/** One round's raw transfer, to the same server the driver writes to. */
export interface RawContext<Endpoints> {
  readonly endpoints: Endpoints;
  readonly volumePath: string;
  readonly chunkSize: number;
  readonly concurrency: number;
  /** This round's container; the raw transfer writes next to it (`<container>-raw`), never into it. */
  readonly container: string;
  /** The target's scratch folder (batch files and the like). */
  readonly directory: string;
}

/** A driver with a server started by one of scripts/servers/ for the run. */
export interface NetworkBackend<Endpoints> {
  readonly name: string;
  readonly server: ServerScript;
  /** The driver's workspace folder. */
  readonly packageDir: string;
  readonly rawLabel: string;
  /** Stands in for the real endpoints when checking, before any server starts, that the driver accepts our options. */
  readonly placeholder: Endpoints;
  driverOptions(endpoints: Endpoints, container: string): Record<string, unknown>;
  rawTransfer(context: RawContext<Endpoints>): Promise<RawTransfer>;
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/** The driver package's ESM entry, read from its package.json (drivers are not dependencies of the bench). */
async function driverModule(packageDir: string): Promise<string> {
  const manifest = JSON.parse(await readFile(join(packageDir, 'package.json'), 'utf8')) as {
    exports?: { '.'?: { import?: string } };
    main?: string;
  };
  const entry = manifest.exports?.['.']?.import ?? manifest.main ?? './dist/index.js';
  return pathToFileURL(join(packageDir, entry)).href;
}

/** Load the plugin here and validate our options, so a renamed option is a clear skip, not a failed run. */
async function optionsProblem(module: string, options: Record<string, unknown>): Promise<string | undefined> {
  try {
    const core = await import('@stowage/core');
    const plugin = (await import(module) as { default?: import('@stowage/core').DriverPlugin }).default;
    if (plugin?.contract !== core.DRIVER_CONTRACT_V1) return `${module} does not export a ${core.DRIVER_CONTRACT_V1} plugin`;
    await core.validateOptions(plugin.optionsSchema, options, 'bench options');
    return undefined;
  } catch (error) {
    return `the bench's options for it do not load or validate (update bench/src/drivers/network-targets.ts): ${(error as Error).message}`;
  }
}

export function networkTarget<Endpoints>(backend: NetworkBackend<Endpoints>): DriverTarget {
  const packageDir = join(REPO_ROOT, backend.packageDir);
  return {
    name: backend.name,
    async unavailable() {
      if (!(await exists(serverScriptPath(backend.server)))) return `no server script scripts/servers/${backend.server.file}`;
      if (!(await exists(join(packageDir, 'package.json')))) return `no driver package ${backend.packageDir}`;
      const module = await driverModule(packageDir);
      if (!(await exists(fileURLToPath(module)))) return `${backend.packageDir} is not built (pnpm build)`;
      return optionsProblem(module, backend.driverOptions(backend.placeholder, 'bench'));
    },
    async start(directory): Promise<StartedTarget> {
      const module = await driverModule(packageDir);
      const server = await startServerScript<Endpoints>(backend.server, join(directory, 'server'));
      const { endpoints } = server;
      const driver: DriverSpec = { module, options: backend.driverOptions(endpoints, 'bench') };
      return {
        driver,
        rawLabel: backend.rawLabel,
        rawTransfer: (volumePath, chunkSize, concurrency, round) =>
          backend.rawTransfer({ endpoints, volumePath, chunkSize, concurrency, container: `bench-${round}`, directory }),
        container: (round) => `bench-${round}`,
        stop: () => server.stop(),
      };
    },
  };
}
