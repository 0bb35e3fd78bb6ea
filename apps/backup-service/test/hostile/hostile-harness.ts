/**
 * The in-process service the hostile suite drives: tokens auth (two member projects and an admin), the posix
 * backend in a temp folder, SQLite, `backup_max_operations: 1`, and a storage gate that holds every chunk read,
 * write and delete so that queued and running operations sit still at known points (determinism for a seed).
 */
import { mkdir, readdir, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { StorageDriver } from '@stowage/core';
import { pino } from 'pino';
import { resolveConfig } from '../../src/config/load-config.js';
import { startService, type RunningService } from '../../src/service.js';
import { freePort, sleep, tempDir } from '../helpers/service-process.js';
import { sha256Hex } from '../helpers/volume-files.js';

export type Actor = 'a' | 'b' | 'admin';
export const PROJECT_OF: Readonly<Record<Actor, string>> = { a: 'project-a', b: 'project-b', admin: 'admin-project' };
const TOKEN_OF: Readonly<Record<Actor, string>> = { a: 'hostile-token-alice', b: 'hostile-token-bob', admin: 'hostile-token-ops' };

/** The suite's quotas: small so that a few thousand steps reach them often. */
export const QUOTA = { backups: 4, backupGigabytes: 6 } as const;
/** Cinder's default volume quotas (quota_volumes, quota_gigabytes): the service must enforce them by default. */
export const CINDER_VOLUME_QUOTA = { volumes: 10, gigabytes: 1000 } as const;

/**
 * The suite writes only the first SMALL_VOLUME_BYTES of each (sparse, 1 GiB and up) volume, so a restore is checked
 * by comparing that region and the file's allocation, not by hashing a GiB of holes (3-4 s each on this machine).
 */
export const SMALL_VOLUME_BYTES = 2 * 1024 * 1024;

export const BACKUP_TRANSIENT = ['creating', 'deleting', 'restoring'];
export const VOLUME_TRANSIENT = ['creating', 'deleting', 'extending', 'backing-up', 'restoring-backup', 'attaching', 'detaching', 'downloading', 'uploading', 'retyping'];

const CHUNK_KEY = /chunk-/;

/** Holds chunk I/O while `holding`; an aborted call (force delete, shutdown) is let go with the abort. */
export class StorageGate {
  #holding = false;
  #waiters = new Set<() => void>();

  get holding(): boolean {
    return this.#holding;
  }

  /** Calls currently held. */
  get held(): number {
    return this.#waiters.size;
  }

  hold(): void {
    this.#holding = true;
  }

  release(): void {
    this.#holding = false;
    for (const wake of [...this.#waiters]) wake();
  }

  wrap(driver: StorageDriver): StorageDriver {
    const gated = new Set(['putObject', 'getObject', 'readObjectInto', 'deleteObject']);
    return new Proxy(driver, {
      get: (target, property) => {
        // Bound to the real driver: its private fields are not reachable through the proxy.
        const value = Reflect.get(target, property, target) as unknown;
        if (typeof value !== 'function') return value;
        const bound = (value as (...args: unknown[]) => unknown).bind(target);
        if (typeof property !== 'string' || !gated.has(property)) return bound;
        return async (...args: unknown[]) => {
          const key = String(args[1]);
          const options = args[args.length - 1] as { signal?: AbortSignal } | undefined;
          if (this.#holding && CHUNK_KEY.test(key)) await this.#wait(options?.signal);
          return bound(...args);
        };
      },
    });
  }

  #wait(signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const wake = () => {
        this.#waiters.delete(wake);
        resolve();
      };
      if (signal?.aborted) return reject(signal.reason as Error);
      this.#waiters.add(wake);
      signal?.addEventListener(
        'abort',
        () => {
          this.#waiters.delete(wake);
          reject(signal.reason as Error);
        },
        { once: true },
      );
    });
  }
}

export interface ApiAnswer {
  readonly status: number;
  readonly text: string;
  readonly json: unknown;
  /** `METHOD /path` with ids and projects replaced, for counting error paths. */
  readonly route: string;
}

export interface CallOptions {
  readonly body?: unknown;
  /** Sent as is (not JSON encoded): malformed bodies. */
  readonly rawBody?: string;
  /** The whole header value, or undefined for none (3.0). */
  readonly versionHeader?: string | undefined;
  /** Whose project the URL names; 'none' is the project-less form (3.67). */
  readonly urlProject?: 'own' | 'other' | 'none';
}

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;

export function routeTemplate(method: string, path: string): string {
  const [bare] = path.split('?');
  const segments = (bare ?? '').split('/').map((segment, index, all) => {
    if (UUID.test(segment)) return '{id}';
    UUID.lastIndex = 0;
    const before = all[index - 1];
    if ((before === 'backups' || before === 'volumes') && !['detail', 'import_record'].includes(segment)) return '{bad-id}';
    return segment;
  });
  UUID.lastIndex = 0;
  return `${method} ${segments.join('/')}`;
}

export class HostileHarness {
  readonly gate = new StorageGate();
  service!: RunningService;
  dir = '';
  posixRoot = '';
  #remove: (() => Promise<void>) | undefined;
  #configRaw: Record<string, unknown> = {};

  async start(): Promise<void> {
    const dir = await tempDir('hostile');
    this.dir = dir.path;
    this.#remove = dir.remove;
    this.posixRoot = join(dir.path, 'posix');
    const tokensFile = join(dir.path, 'tokens.yaml');
    const entry = (actor: Actor, roles: string) =>
      `  - {sha256: ${sha256Hex(TOKEN_OF[actor])}, user_id: user-${actor}, project_id: ${PROJECT_OF[actor]}, roles: [${roles}]}`;
    await writeFile(tokensFile, ['tokens:', entry('a', 'member'), entry('b', 'member'), entry('admin', 'admin, member')].join('\n') + '\n');
    this.#configRaw = {
      host: 'hostile',
      state_path: dir.path,
      auth_strategy: 'tokens',
      auth_tokens_file: tokensFile,
      backup_max_operations: 1,
      backup_periodic_initialization: true,
      quota_backups: QUOTA.backups,
      quota_backup_gigabytes: QUOTA.backupGigabytes,
      // A restart aborts what runs (a crash, as far as the rows can tell) instead of waiting for it.
      shutdown_grace_period: 0,
      backends: [{ name: 'posix', driver: '@stowage/driver-posix', options: { path: this.posixRoot, fsync: false } }],
    };
    await this.#boot();
  }

  async #boot(): Promise<void> {
    const config = resolveConfig({ ...this.#configRaw, listen: `127.0.0.1:${await freePort()}` }, { baseDir: this.dir, source: 'hostile-test' });
    this.service = await startService(config, pino({ level: process.env.STOWAGE_HOSTILE_LOG ?? 'silent' }), {
      adjustBackends: (backends) =>
        backends.map((backend) => ({ ...backend, plugin: { ...backend.plugin, create: (options, context) => this.gate.wrap(backend.plugin.create(options, context)) } })),
    });
    await this.service.initialized;
  }

  /** Stop and start again on the same database and folders. */
  async restart(): Promise<void> {
    await this.service.stop();
    this.gate.release();
    await this.#boot();
  }

  async stop(): Promise<void> {
    this.gate.release();
    await this.service?.stop().catch(() => undefined);
    await this.#remove?.();
  }

  async call(actor: Actor, method: string, path: string, options: CallOptions = {}): Promise<ApiAnswer> {
    const own = PROJECT_OF[actor];
    const other = actor === 'a' ? PROJECT_OF.b : PROJECT_OF.a;
    const prefix = options.urlProject === 'none' ? '/v3' : `/v3/${options.urlProject === 'other' ? other : own}`;
    const headers: Record<string, string> = { 'x-auth-token': TOKEN_OF[actor] };
    if (options.versionHeader !== undefined) headers['openstack-api-version'] = options.versionHeader;
    let payload: string | undefined;
    if (options.rawBody !== undefined) payload = options.rawBody;
    else if (options.body !== undefined) payload = JSON.stringify(options.body);
    if (payload !== undefined) headers['content-type'] = 'application/json';
    const response = await this.service.app.inject({ method: method as 'GET', url: `${prefix}${path}`, headers, ...(payload === undefined ? {} : { payload }) });
    let json: unknown;
    try {
      json = response.body ? JSON.parse(response.body) : undefined;
    } catch {
      json = undefined;
    }
    return { status: response.statusCode, text: response.body, json, route: routeTemplate(method, `/v3/{p}${path}`) };
  }

  /** Every backup and volume row's status, deleted ones included: what "nothing moved" compares. */
  async statusSnapshot(): Promise<string> {
    const db = this.service.store.db;
    const backups = await db.selectFrom('backups').select(['id', 'status']).orderBy('id').execute();
    const volumes = await db.selectFrom('volumes').select(['id', 'status', 'deleted']).orderBy('id').execute();
    return JSON.stringify([backups, volumes]);
  }

  async transientRows(): Promise<string[]> {
    const db = this.service.store.db;
    const backups = await db.selectFrom('backups').select(['id', 'status']).where('deleted', '=', 0).where('status', 'in', BACKUP_TRANSIENT).execute();
    const volumes = await db.selectFrom('volumes').select(['id', 'status']).where('deleted', '=', 0).where('status', 'in', VOLUME_TRANSIENT).execute();
    return [...backups.map((row) => `backup ${row.id} ${row.status}`), ...volumes.map((row) => `volume ${row.id} ${row.status}`)];
  }

  /**
   * Wait until whatever can move has moved: every running operation is held at the gate (or none runs) and the
   * rows stopped changing. Bounded; a poll, never a fixed sleep for the answer itself.
   */
  async quiesce(timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    let stableFor = 0;
    while (Date.now() < deadline) {
      const snapshot = await this.statusSnapshot();
      const settledOps = this.service.manager.runningOperations <= this.gate.held;
      stableFor = snapshot === last && settledOps ? stableFor + 1 : 0;
      last = snapshot;
      if (stableFor >= 2) break;
      await sleep(15);
    }
  }

  /**
   * Release the gate and wait until the service is idle: nothing running and no row in a transient status, or
   * nothing running and the rows unchanged for a while (then something is stuck, and the caller says so).
   */
  async idle(timeoutMs = 60_000): Promise<void> {
    this.gate.release();
    const deadline = Date.now() + timeoutMs;
    let last = '';
    let stableFor = 0;
    while (Date.now() < deadline) {
      const snapshot = await this.statusSnapshot();
      const quiet = this.service.manager.runningOperations === 0;
      stableFor = snapshot === last && quiet ? stableFor + 1 : 0;
      last = snapshot;
      if (quiet && stableFor >= 2 && (await this.transientRows()).length === 0) break;
      if (stableFor >= 40) break;
      await sleep(25);
    }
  }

  /** Every file under `folder` (recursively), as absolute paths; empty when it does not exist. */
  async filesUnder(folder: string): Promise<string[]> {
    const found: string[] = [];
    const walk = async (current: string): Promise<void> => {
      const entries = await readdir(current, { withFileTypes: true }).catch(() => []);
      for (const entry of entries) {
        const path = join(current, entry.name);
        if (entry.isDirectory()) await walk(path);
        else found.push(path);
      }
    };
    await walk(folder);
    return found;
  }

  /**
   * What a posix write that crashed long ago leaves: a temp file and an empty fan-out folder in the default
   * container, dated two days back (a sweep may spare young ones: another host could still be writing them).
   */
  async plantCrashLeftovers(tag: number): Promise<string[]> {
    const folder = join(this.posixRoot, 'backups', `volume_crashed/backup_${tag}`);
    await mkdir(join(folder, 'ab'), { recursive: true });
    const temp = join(folder, `.stowage-tmp-${tag}`);
    await writeFile(temp, 'partial');
    const longAgo = new Date(Date.now() - 2 * 24 * 3600 * 1000);
    for (const path of [temp, join(folder, 'ab'), folder]) await utimes(path, longAgo, longAgo);
    return [temp, join(folder, 'ab')];
  }
}
