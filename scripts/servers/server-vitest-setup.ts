/**
 * What every test server's vitest `globalSetup` does, written once: start a throwaway server through its script in
 * this folder before the tests and stop it by PID afterwards, also when tests fail.
 *
 * - `<envVar>=<state>/endpoints.json` uses a server that is already running (and leaves it running).
 * - If the server cannot start: under `CI=true` the run fails here; elsewhere the tests skip, naming the command.
 * - `STOWAGE_KEEP_SERVER_STATE=1` keeps the state folder (logs) after the run.
 *
 * Tests read the result with `inject(key)`.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
// Type-only imports are erased at run time, so these files need no resolvable @stowage/testkit.
import type { TestServerState } from '@stowage/testkit';

const run = promisify(execFile);
const HERE = dirname(fileURLToPath(import.meta.url));

export interface ServerSetup<Endpoints> {
  /** The `inject` key the tests read: `nfsServer`. */
  readonly key: string;
  /** For messages: "the NFS test server". */
  readonly title: string;
  /** The script in this folder: `nfs.sh` (run with bash) or `gcs-emulator.mjs` (run with node). */
  readonly script: string;
  /** The variable naming an already running server's endpoints.json: `STOWAGE_NFS_ENDPOINTS`. */
  readonly envVar: string;
  readonly startTimeoutMs: number;
  readonly stopTimeoutMs: number;
  /** What a failed start asks for besides the script: "(as root)". */
  readonly startNeeds: string;
  /** Where the ready server listens, for the log. */
  where(endpoints: Endpoints): string;
}

interface Provider<Endpoints> {
  provide(key: string, value: TestServerState<Endpoints>): void;
}

export function serverGlobalSetup<Endpoints>(server: ServerSetup<Endpoints>) {
  const script = join(HERE, server.script);
  const [command, ...commandArgs] = server.script.endsWith('.mjs') ? [process.execPath, script] : ['bash', script];
  const shown = server.script.endsWith('.mjs') ? 'node' : 'bash';
  const runScript = (args: string[], timeout: number) => run(command!, [...commandArgs, ...args], { timeout, maxBuffer: 16 * 1024 * 1024 });
  const name = server.script.replace(/\.(sh|mjs)$/, '');

  return async function setup(project: Provider<Endpoints>): Promise<() => Promise<void>> {
    const startCommand = `${shown} scripts/servers/${server.script} start <state-dir> && ${server.envVar}=<state-dir>/endpoints.json pnpm test`;
    const existing = process.env[server.envVar];
    if (existing) {
      const endpoints = await readFile(existing, 'utf8').then(
        (text) => JSON.parse(text) as Endpoints,
        () => undefined,
      );
      if (endpoints === undefined) {
        const reason = `${server.envVar}=${existing} cannot be read`;
        if (process.env.CI === 'true') throw new Error(`CI=true and ${reason}`);
        project.provide(server.key, { available: false, reason, startCommand });
      } else project.provide(server.key, { available: true, endpoints, startCommand });
      return async () => {};
    }

    const state = await mkdtemp(join(tmpdir(), `stowage-${name}-`));
    const started = Date.now();
    try {
      // --watch-pid: if this runner dies before its teardown, the server stops by itself.
      await runScript(['start', state, '--watch-pid', String(process.pid)], server.startTimeoutMs);
    } catch (error) {
      const detail = (error as { stderr?: string }).stderr?.trim().split('\n').slice(-5).join(' | ') ?? String(error);
      await runScript(['stop', state], server.stopTimeoutMs).catch(() => undefined);
      await rm(state, { recursive: true, force: true });
      const reason = `${server.title} did not start: ${detail}`;
      if (process.env.CI === 'true') throw new Error(`CI=true and ${reason}; run \`${shown} ${script} start /tmp/${name}-state\` to see why`);
      project.provide(server.key, { available: false, reason, startCommand: `${shown} ${script} start <state-dir> ${server.startNeeds}` });
      return async () => {};
    }
    const endpoints = JSON.parse(await readFile(join(state, 'endpoints.json'), 'utf8')) as Endpoints;
    console.log(`${server.title} ready in ${Date.now() - started} ms at ${server.where(endpoints)} (state ${state})`);
    project.provide(server.key, { available: true, endpoints, startCommand });

    return async () => {
      await runScript(['stop', state], server.stopTimeoutMs).catch((error: unknown) => {
        console.error(`stopping ${server.title} in ${state} failed: ${String(error)}`);
      });
      if (!process.env.STOWAGE_KEEP_SERVER_STATE) await rm(state, { recursive: true, force: true });
    };
  };
}
