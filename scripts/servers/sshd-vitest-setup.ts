/**
 * vitest `globalSetup` of @stowage/driver-sftp (and the integration package): starts a throwaway OpenSSH server
 * through sshd.sh before the tests and stops it by PID afterwards, also when tests fail.
 *
 * - `STOWAGE_SSHD_ENDPOINTS=<state>/endpoints.json` uses a server that is already running (and leaves it running).
 * - If the server cannot start: under `CI=true` the run fails here; elsewhere the tests skip, naming the command.
 *
 * Tests read the result with `inject('sshdServer')`.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { TestServerState } from '@stowage/testkit';

const run = promisify(execFile);
const script = join(dirname(fileURLToPath(import.meta.url)), 'sshd.sh');

/** What sshd.sh writes to `<state>/endpoints.json`. */
export interface SshdEndpoints {
  readonly state: string;
  readonly script: string;
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly privateKeyPath: string;
  readonly knownHostsPath: string;
  /** `SHA256:<base64>`, as `ssh-keygen -l -E sha256` prints it. */
  readonly hostKeyFingerprint: string;
  readonly hostKeyBase64: string;
  /** The login's start folder (`ForceCommand internal-sftp -d`). */
  readonly dataDir: string;
  readonly pid: number;
}

// Type-only imports are erased at run time, so this file needs no resolvable @stowage/testkit.
type SshdServerState = TestServerState<SshdEndpoints>;

interface Provider {
  provide(key: 'sshdServer', value: SshdServerState): void;
}

export default async function setup(project: Provider): Promise<() => Promise<void>> {
  const startCommand = `bash scripts/servers/sshd.sh start <state-dir> && STOWAGE_SSHD_ENDPOINTS=<state-dir>/endpoints.json pnpm test`;
  const existing = process.env.STOWAGE_SSHD_ENDPOINTS;
  if (existing) {
    const endpoints = await readFile(existing, 'utf8').then(
      (text) => JSON.parse(text) as SshdEndpoints,
      () => undefined,
    );
    if (endpoints === undefined) {
      const reason = `STOWAGE_SSHD_ENDPOINTS=${existing} cannot be read`;
      if (process.env.CI === 'true') throw new Error(`CI=true and ${reason}`);
      project.provide('sshdServer', { available: false, reason, startCommand });
    } else project.provide('sshdServer', { available: true, endpoints, startCommand });
    return async () => {};
  }

  const state = await mkdtemp(join(tmpdir(), 'stowage-sshd-'));
  const started = Date.now();
  try {
    // --watch-pid: if this runner dies before its teardown, sshd stops by itself.
    await run('bash', [script, 'start', state, '--watch-pid', String(process.pid)], { timeout: 300_000 });
  } catch (error) {
    const detail = (error as { stderr?: string }).stderr?.trim().split('\n').slice(-5).join(' | ') ?? String(error);
    await run('bash', [script, 'stop', state]).catch(() => undefined);
    await rm(state, { recursive: true, force: true });
    const reason = `the SFTP test server did not start: ${detail}`;
    if (process.env.CI === 'true') throw new Error(`CI=true and ${reason}; run \`bash ${script} start /tmp/sshd-state\` to see why`);
    project.provide('sshdServer', { available: false, reason, startCommand: `bash ${script} start <state-dir> (as root)` });
    return async () => {};
  }
  const endpoints = JSON.parse(await readFile(join(state, 'endpoints.json'), 'utf8')) as SshdEndpoints;
  console.log(`sshd test server ready in ${Date.now() - started} ms at ${endpoints.host}:${endpoints.port} (state ${state})`);
  project.provide('sshdServer', { available: true, endpoints, startCommand });

  return async () => {
    await run('bash', [script, 'stop', state], { timeout: 120_000 }).catch((error: unknown) => {
      console.error(`stopping the SFTP test server in ${state} failed: ${String(error)}`);
    });
    if (!process.env.STOWAGE_KEEP_SERVER_STATE) await rm(state, { recursive: true, force: true });
  };
}
