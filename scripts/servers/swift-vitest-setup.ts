/**
 * vitest `globalSetup` shared by @stowage/driver-swift and @stowage/driver-s3: starts a throwaway Swift cluster
 * (with s3api) through swift.sh before the tests and stops it by PID afterwards, also when tests fail.
 *
 * - `STOWAGE_SWIFT_ENDPOINTS=<state>/endpoints.json` uses a cluster that is already running (and leaves it running).
 * - If the cluster cannot start: under `CI=true` the run fails here; elsewhere the tests skip, naming the command.
 *
 * Tests read the result with `inject('swiftServer')`.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { SwiftEndpoints, TestServerState } from '@stowage/testkit';

const run = promisify(execFile);
const script = join(dirname(fileURLToPath(import.meta.url)), 'swift.sh');

// Type-only imports are erased at run time, so this file needs no resolvable @stowage/testkit.
type SwiftServerState = TestServerState<SwiftEndpoints>;

interface Provider {
  provide(key: 'swiftServer', value: SwiftServerState): void;
}

export default async function setup(project: Provider): Promise<() => Promise<void>> {
  const startCommand = `bash scripts/servers/swift.sh start <state-dir> && STOWAGE_SWIFT_ENDPOINTS=<state-dir>/endpoints.json pnpm test`;
  const existing = process.env.STOWAGE_SWIFT_ENDPOINTS;
  if (existing) {
    const endpoints = await readFile(existing, 'utf8').then(
      (text) => JSON.parse(text) as SwiftEndpoints,
      () => undefined,
    );
    if (endpoints === undefined) {
      const reason = `STOWAGE_SWIFT_ENDPOINTS=${existing} cannot be read`;
      if (process.env.CI === 'true') throw new Error(`CI=true and ${reason}`);
      project.provide('swiftServer', { available: false, reason, startCommand });
    } else project.provide('swiftServer', { available: true, endpoints, startCommand });
    return async () => {};
  }

  const state = await mkdtemp(join(tmpdir(), 'stowage-swift-'));
  const started = Date.now();
  try {
    // --watch-pid: if this runner dies before its teardown, the cluster stops by itself.
    await run('bash', [script, 'start', state, '--watch-pid', String(process.pid)], { timeout: 300_000, maxBuffer: 16 * 1024 * 1024 });
  } catch (error) {
    const detail = (error as { stderr?: string }).stderr?.trim().split('\n').slice(-5).join(' | ') ?? String(error);
    await run('bash', [script, 'stop', state]).catch(() => undefined);
    await rm(state, { recursive: true, force: true });
    const reason = `the Swift test cluster did not start: ${detail}`;
    if (process.env.CI === 'true') throw new Error(`CI=true and ${reason}; run \`bash ${script} start /tmp/swift-state\` to see why`);
    project.provide('swiftServer', { available: false, reason, startCommand: `bash ${script} start <state-dir> (as root)` });
    return async () => {};
  }
  const endpoints = JSON.parse(await readFile(join(state, 'endpoints.json'), 'utf8')) as SwiftEndpoints;
  console.log(`swift test cluster ready in ${Date.now() - started} ms at ${endpoints.proxyUrl} (state ${state})`);
  project.provide('swiftServer', { available: true, endpoints, startCommand });

  return async () => {
    await run('bash', [script, 'stop', state], { timeout: 120_000 }).catch((error: unknown) => {
      console.error(`stopping the Swift test cluster in ${state} failed: ${String(error)}`);
    });
    if (!process.env.STOWAGE_KEEP_SERVER_STATE) await rm(state, { recursive: true, force: true });
  };
}
