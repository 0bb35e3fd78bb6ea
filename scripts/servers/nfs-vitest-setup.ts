/**
 * vitest `globalSetup` of @stowage/driver-nfs (and the integration package): starts a throwaway NFSv3 server
 * (nfs-ganesha, with rpcbind on loopback) through nfs.sh before the tests and stops it by PID afterwards, also when
 * tests fail.
 *
 * - `STOWAGE_NFS_ENDPOINTS=<state>/endpoints.json` uses a server that is already running (and leaves it running).
 * - If the server cannot start: under `CI=true` the run fails here; elsewhere the tests skip, naming the command.
 *
 * Tests read the result with `inject('nfsServer')`.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { ServerEndpointsBase, TestServerState } from '@stowage/testkit';

const run = promisify(execFile);
const script = join(dirname(fileURLToPath(import.meta.url)), 'nfs.sh');

// Type-only imports are erased at run time, so this file needs no resolvable @stowage/testkit.
/** What nfs.sh writes to `<state>/endpoints.json`. */
interface NfsEndpoints extends ServerEndpointsBase {
  readonly server: string;
  readonly export: string;
  readonly exportPath: string;
  readonly nfsPort: number;
  readonly mountPort: number;
  readonly url: string;
}
type NfsServerState = TestServerState<NfsEndpoints>;

interface Provider {
  provide(key: 'nfsServer', value: NfsServerState): void;
}

export default async function setup(project: Provider): Promise<() => Promise<void>> {
  const startCommand = `bash scripts/servers/nfs.sh start <state-dir> && STOWAGE_NFS_ENDPOINTS=<state-dir>/endpoints.json pnpm test`;
  const existing = process.env.STOWAGE_NFS_ENDPOINTS;
  if (existing) {
    const endpoints = await readFile(existing, 'utf8').then(
      (text) => JSON.parse(text) as NfsEndpoints,
      () => undefined,
    );
    if (endpoints === undefined) {
      const reason = `STOWAGE_NFS_ENDPOINTS=${existing} cannot be read`;
      if (process.env.CI === 'true') throw new Error(`CI=true and ${reason}`);
      project.provide('nfsServer', { available: false, reason, startCommand });
    } else project.provide('nfsServer', { available: true, endpoints, startCommand });
    return async () => {};
  }

  const state = await mkdtemp(join(tmpdir(), 'stowage-nfs-'));
  const started = Date.now();
  try {
    // --watch-pid: if this runner dies before its teardown, the server stops by itself.
    await run('bash', [script, 'start', state, '--watch-pid', String(process.pid)], { timeout: 180_000, maxBuffer: 16 * 1024 * 1024 });
  } catch (error) {
    const detail = (error as { stderr?: string }).stderr?.trim().split('\n').slice(-5).join(' | ') ?? String(error);
    await run('bash', [script, 'stop', state]).catch(() => undefined);
    await rm(state, { recursive: true, force: true });
    const reason = `the NFS test server did not start: ${detail}`;
    if (process.env.CI === 'true') throw new Error(`CI=true and ${reason}; run \`bash ${script} start /tmp/nfs-state\` to see why`);
    project.provide('nfsServer', { available: false, reason, startCommand: `bash ${script} start <state-dir> (as root)` });
    return async () => {};
  }
  const endpoints = JSON.parse(await readFile(join(state, 'endpoints.json'), 'utf8')) as NfsEndpoints;
  console.log(`NFS test server ready in ${Date.now() - started} ms at ${endpoints.url} (state ${state})`);
  project.provide('nfsServer', { available: true, endpoints, startCommand });

  return async () => {
    await run('bash', [script, 'stop', state], { timeout: 120_000 }).catch((error: unknown) => {
      console.error(`stopping the NFS test server in ${state} failed: ${String(error)}`);
    });
    if (!process.env.STOWAGE_KEEP_SERVER_STATE) await rm(state, { recursive: true, force: true });
  };
}
