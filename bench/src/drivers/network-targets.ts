import { access, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { ChildRequest, DriverSpec } from '../child/protocol.js';
import { runPlain } from '../measure.js';
import { REPO_ROOT } from '../options.js';
import type { DriverTarget, StartedTarget } from './driver-target.js';

/** What scripts/servers/swift.sh writes to <state>/endpoints.json (Swift with tempauth, S3 through s3api). */
interface SwiftEndpoints {
  readonly authUrl: string;
  readonly user: string;
  readonly key: string;
  readonly s3: { readonly endpoint: string; readonly region: string; readonly accessKeyId: string; readonly secretAccessKey: string };
}

interface NetworkBackend {
  readonly name: string;
  /** Script under scripts/servers/ that starts and stops the server. */
  readonly serverScript: string;
  /** The driver's workspace folder. */
  readonly packageDir: string;
  readonly rawLabel: string;
  driverOptions(endpoints: SwiftEndpoints, container: string): Record<string, unknown>;
  rawRequest(endpoints: SwiftEndpoints, volumePath: string, chunkSize: number, concurrency: number, container: string): Promise<ChildRequest>;
}

/** Stands in for the real endpoints when checking, before any server starts, that the driver accepts our options. */
const PLACEHOLDER: SwiftEndpoints = {
  authUrl: 'http://127.0.0.1:1/auth/v1.0',
  user: 'test:tester',
  key: 'testing',
  s3: { endpoint: 'http://127.0.0.1:1', region: 'us-east-1', accessKeyId: 'test:tester', secretAccessKey: 'testing' },
};

const BACKENDS: readonly NetworkBackend[] = [
  {
    name: 'swift',
    serverScript: 'swift.sh',
    packageDir: 'packages/driver-swift',
    rawLabel: 'bare fetch PUT per chunk (tempauth token)',
    driverOptions: (endpoints, container) => ({ auth_url: endpoints.authUrl, user: endpoints.user, key: endpoints.key, container }),
    rawRequest: async (endpoints, volumePath, chunkSize, concurrency, container) => ({
      op: 'raw-swift',
      volumePath,
      authUrl: endpoints.authUrl,
      user: endpoints.user,
      key: endpoints.key,
      container: `${container}-raw`,
      chunkSize,
      concurrency,
    }),
  },
  {
    name: 's3',
    serverScript: 'swift.sh',
    packageDir: 'packages/driver-s3',
    rawLabel: '@aws-sdk/client-s3 PutObject per chunk',
    driverOptions: (endpoints, container) => ({
      endpoint: endpoints.s3.endpoint,
      region: endpoints.s3.region,
      access_key: endpoints.s3.accessKeyId,
      secret_key: endpoints.s3.secretAccessKey,
      force_path_style: true,
      bucket: container,
    }),
    rawRequest: async (endpoints, volumePath, chunkSize, concurrency, container) => {
      // The SDK the s3 driver itself depends on, resolved from the driver's folder (pnpm does not hoist it).
      const sdkModule = pathToFileURL(createRequire(join(REPO_ROOT, 'packages/driver-s3/package.json')).resolve('@aws-sdk/client-s3')).href;
      return {
        op: 'raw-s3-sdk',
        volumePath,
        sdkModule,
        endpoint: endpoints.s3.endpoint,
        region: endpoints.s3.region,
        accessKeyId: endpoints.s3.accessKeyId,
        secretAccessKey: endpoints.s3.secretAccessKey,
        bucket: `${container}-raw`,
        chunkSize,
        concurrency,
      };
    },
  },
];

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

function networkTarget(backend: NetworkBackend): DriverTarget {
  const script = join(REPO_ROOT, 'scripts', 'servers', backend.serverScript);
  const packageDir = join(REPO_ROOT, backend.packageDir);
  return {
    name: backend.name,
    async unavailable() {
      if (!(await exists(script))) return `no server script scripts/servers/${backend.serverScript}`;
      if (!(await exists(join(packageDir, 'package.json')))) return `no driver package ${backend.packageDir}`;
      const module = await driverModule(packageDir);
      if (!(await exists(fileURLToPath(module)))) return `${backend.packageDir} is not built (pnpm build)`;
      return optionsProblem(module, backend.driverOptions(PLACEHOLDER, 'bench'));
    },
    async start(directory): Promise<StartedTarget> {
      const state = join(directory, 'server');
      await runPlain('bash', [script, 'start', state], { timeoutMs: 10 * 60 * 1000 });
      const endpoints = JSON.parse(await readFile(join(state, 'endpoints.json'), 'utf8')) as SwiftEndpoints;
      const module = await driverModule(packageDir);
      const driver: DriverSpec = { module, options: backend.driverOptions(endpoints, 'bench') };
      return {
        driver,
        rawLabel: backend.rawLabel,
        rawRequest: (volumePath, chunkSize, concurrency, round) =>
          backend.rawRequest(endpoints, volumePath, chunkSize, concurrency, `bench-${round}`),
        container: (round) => `bench-${round}`,
        stop: async () => {
          await runPlain('bash', [script, 'stop', state]);
        },
      };
    },
  };
}

export const networkTargets: readonly DriverTarget[] = BACKENDS.map(networkTarget);
