/**
 * vitest `globalSetup` for @stowage/driver-gcs (and the integration package): starts a throwaway GCS emulator
 * (firebase-tools' StorageEmulator in its own process, gcs-emulator.mjs) before the tests and stops it by PID
 * afterwards, also when tests fail.
 *
 * - `STOWAGE_GCS_ENDPOINTS=<state>/endpoints.json` uses an emulator that is already running (and leaves it running).
 * - If the emulator cannot start: under `CI=true` the run fails here; elsewhere the tests skip, naming the command.
 *
 * Tests read the result with `inject('gcsServer')`.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { TestServerState } from '@stowage/testkit';

const run = promisify(execFile);
const script = join(dirname(fileURLToPath(import.meta.url)), 'gcs-emulator.mjs');

/** What gcs-emulator.mjs writes to <state>/endpoints.json. */
interface GcsEndpoints {
  readonly state: string;
  readonly script: string;
  readonly endpoint: string;
  readonly projectId: string;
  readonly port: number;
}

// Type-only imports are erased at run time, so this file needs no resolvable @stowage/testkit.
type GcsServerState = TestServerState<GcsEndpoints>;

interface Provider {
  provide(key: 'gcsServer', value: GcsServerState): void;
}

export default async function setup(project: Provider): Promise<() => Promise<void>> {
  const startCommand = `node scripts/servers/gcs-emulator.mjs start <state-dir> && STOWAGE_GCS_ENDPOINTS=<state-dir>/endpoints.json pnpm test`;
  const existing = process.env.STOWAGE_GCS_ENDPOINTS;
  if (existing) {
    const endpoints = await readFile(existing, 'utf8').then(
      (text) => JSON.parse(text) as GcsEndpoints,
      () => undefined,
    );
    if (endpoints === undefined) {
      const reason = `STOWAGE_GCS_ENDPOINTS=${existing} cannot be read`;
      if (process.env.CI === 'true') throw new Error(`CI=true and ${reason}`);
      project.provide('gcsServer', { available: false, reason, startCommand });
    } else project.provide('gcsServer', { available: true, endpoints, startCommand });
    return async () => {};
  }

  const state = await mkdtemp(join(tmpdir(), 'stowage-gcs-'));
  const started = Date.now();
  try {
    // --watch-pid: if this runner dies before its teardown, the emulator stops by itself.
    await run(process.execPath, [script, 'start', state, '--watch-pid', String(process.pid)], { timeout: 120_000 });
  } catch (error) {
    const detail = (error as { stderr?: string }).stderr?.trim().split('\n').slice(-5).join(' | ') ?? String(error);
    await run(process.execPath, [script, 'stop', state]).catch(() => undefined);
    await rm(state, { recursive: true, force: true });
    const reason = `the GCS emulator did not start: ${detail}`;
    if (process.env.CI === 'true') throw new Error(`CI=true and ${reason}; run \`node ${script} start /tmp/gcs-state\` to see why`);
    project.provide('gcsServer', { available: false, reason, startCommand: `node ${script} start <state-dir> (after pnpm install)` });
    return async () => {};
  }
  const endpoints = JSON.parse(await readFile(join(state, 'endpoints.json'), 'utf8')) as GcsEndpoints;
  console.log(`GCS emulator ready in ${Date.now() - started} ms at ${endpoints.endpoint} (state ${state})`);
  project.provide('gcsServer', { available: true, endpoints, startCommand });

  return async () => {
    await run(process.execPath, [script, 'stop', state], { timeout: 180_000 }).catch((error: unknown) => {
      console.error(`stopping the GCS emulator in ${state} failed: ${String(error)}`);
    });
    if (!process.env.STOWAGE_KEEP_SERVER_STATE) await rm(state, { recursive: true, force: true });
  };
}
