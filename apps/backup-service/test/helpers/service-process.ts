/** Run the real `stowage` CLI as a child process against a temporary config, for process-level tests. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';

export const APP_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const CLI = join(APP_DIR, 'dist/cli.js');
export const EXAMPLE_DRIVER_DIR = resolve(APP_DIR, '../../examples/driver-example');

export { freePort } from '@stowage/testkit';

export async function tempDir(prefix: string): Promise<{ path: string; remove: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), `stowage-${prefix}-`));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

/** Small intervals so lifecycle tests run in seconds (the issue's numbers). */
export const FAST_INTERVALS = {
  report_interval: 1,
  service_down_time: 3,
  periodic_interval: 1,
  backup_initialization_timeout: 2,
  shutdown_grace_period: 5,
};

export async function writeConfig(dir: string, config: Record<string, unknown>, name = 'stowage.yaml'): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, stringify(config));
  return path;
}

export interface RunResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Run the CLI to completion (check, or a serve that must fail at start). */
export function runCli(args: readonly string[], options: { cwd?: string; timeoutMs?: number; cli?: string; env?: Record<string, string> } = {}): Promise<RunResult> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, [options.cli ?? CLI, ...args], {
      cwd: options.cwd ?? APP_DIR,
      env: { ...process.env, STOWAGE_LOG_LEVEL: 'warn', ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`stowage ${args.join(' ')} did not exit within ${options.timeoutMs ?? 30_000} ms\n${stdout}\n${stderr}`));
    }, options.timeoutMs ?? 30_000);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolveRun({ code, stdout, stderr });
    });
  });
}

export class ServiceProcess {
  readonly url: string;
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  #exit: Promise<number | null>;

  private constructor(url: string, child: ChildProcess) {
    this.url = url;
    this.child = child;
    child.stdout?.on('data', (chunk: Buffer) => (this.stdout += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
    this.#exit = new Promise((resolveExit) => child.on('exit', (code) => resolveExit(code)));
  }

  /** Start `stowage serve --config FILE` and wait until the API answers. */
  static async start(configPath: string, port: number, options: { cwd?: string; cli?: string } = {}): Promise<ServiceProcess> {
    const child = spawn(process.execPath, [options.cli ?? CLI, 'serve', '--config', configPath], {
      cwd: options.cwd ?? dirname(configPath),
      env: { ...process.env, STOWAGE_LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const service = new ServiceProcess(`http://127.0.0.1:${port}`, child);
    const deadline = Date.now() + 20_000;
    let exited = false;
    void service.#exit.then(() => (exited = true));
    for (;;) {
      if (exited) throw new Error(`stowage serve exited at start:\n${service.stdout}\n${service.stderr}`);
      try {
        const response = await fetch(`${service.url}/`);
        if (response.status === 300) return service;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`stowage serve did not answer within 20 s:\n${service.stdout}\n${service.stderr}`);
      }
      await sleep(50);
    }
  }

  /** SIGTERM and wait for the exit code. */
  async stop(timeoutMs = 20_000): Promise<number | null> {
    if (this.child.exitCode !== null) return this.child.exitCode;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    const code = await this.#exit;
    clearTimeout(timer);
    return code;
  }

  async kill(): Promise<void> {
    if (this.child.exitCode !== null) return;
    this.child.kill('SIGKILL');
    await this.#exit;
  }

  /** Call the API as Cinder's noauth client does. */
  async api(method: string, path: string, body?: unknown, version = '3.70', extraHeaders: Record<string, string> = {}): Promise<{ status: number; body: any }> {
    const response = await fetch(`${this.url}/v3/p1${path}`, {
      method,
      headers: {
        ...extraHeaders,
        'X-Auth-Token': 'u1:p1',
        'OpenStack-API-Version': `volume ${version}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? null : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : null };
  }

  async serviceStates(): Promise<Record<string, { state: string; backend_state?: string; backend_state_reason?: string | null }>> {
    // backend_state_reason is a Stowage extension, only sent when asked for.
    const { body } = await this.api('GET', '/os-services', undefined, '3.70', { 'X-Stowage-Extensions': 'backend_state_reason' });
    return Object.fromEntries((body.services as any[]).map((service) => [service.host, service]));
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolveSleep) => setTimeout(resolveSleep, ms));
}

export async function waitUntil<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 15_000, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await sleep(intervalMs);
  }
}
