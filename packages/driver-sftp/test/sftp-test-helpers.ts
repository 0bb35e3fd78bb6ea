import { createFromPlugin, testServer, type SshdEndpoints, type TestServer } from '@stowage/testkit';
import type { StorageDriver } from '@stowage/core';
import { execFile } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import plugin from '../src/index.js';

export const run = promisify(execFile);

/** The sshd that `scripts/servers/sshd-vitest-setup.ts` started, provided as `sshdServer`. */
export function sshdTestServer(): TestServer<SshdEndpoints> {
  return testServer<SshdEndpoints>('sshdServer', 'the SFTP test server (sshd)');
}

/** Options of a working backend on the test server; `path` is a folder of its own under the login folder. */
export function sftpTestOptions(endpoints: SshdEndpoints, path: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    host: endpoints.host,
    port: endpoints.port,
    username: endpoints.user,
    private_key_path: endpoints.privateKeyPath,
    host_key_fingerprint: endpoints.hostKeyFingerprint,
    path,
    timeout: 20,
    connect_timeout: 5,
    retry_attempts: 2,
    retry_backoff: 0.05,
    ...overrides,
  };
}

export function createSftp(endpoints: SshdEndpoints, path: string, overrides: Record<string, unknown> = {}, backendName = 'sftp-test'): Promise<StorageDriver> {
  return createFromPlugin(plugin, sftpTestOptions(endpoints, path, overrides), { backendName });
}

/** Remove a test's folder on the server (the data folder is local to this machine). */
export async function removeServerFolder(endpoints: SshdEndpoints, path: string): Promise<void> {
  await rm(join(endpoints.dataDir, path), { recursive: true, force: true });
}

/** A fresh ed25519 key pair the server does not know. */
export async function strangerKey(dir: string): Promise<string> {
  const path = join(dir, 'stranger_ed25519');
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path]);
  return path;
}

/** Send `signal` to the running sshd and every session process under it (SIGSTOP freezes it without a reset). */
export async function freezeSshd(endpoints: SshdEndpoints, signal: 'SIGSTOP' | 'SIGCONT'): Promise<void> {
  const listener = Number((await readFile(join(endpoints.state, 'pids', 'sshd.pid'), 'utf8')).trim());
  const pids = [listener];
  for (let index = 0; index < pids.length && index < 1000; index += 1) {
    const { stdout } = await run('ps', ['-o', 'pid=', '--ppid', String(pids[index])]).catch(() => ({ stdout: '' }));
    pids.push(...stdout.split(/\s+/).filter(Boolean).map(Number));
  }
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // gone meanwhile
    }
  }
}
