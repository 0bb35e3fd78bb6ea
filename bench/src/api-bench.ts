/**
 * Full backup and restore timed through the running service's API, the way a user waits for them (create ->
 * backup `available`; restore into a new volume -> volume `available`), beside the engine-only child on the same
 * volume in the same round, so the ratio shows what the service adds.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import type { BenchOptions } from './options.js';
import { runPlain } from './measure.js';
import { median, round } from './stats.js';
import { StowageTool } from './tools/stowage-tool.js';
import { sha256File, type BaseVolume } from './volume.js';
import { loadSnapshot } from './load.js';
import { freePort } from '@stowage/testkit';

const CLI = join(dirname(fileURLToPath(import.meta.resolve('@stowage/backup-service'))), 'cli.js');
/** How often the bench asks for the status: the resolution of the API timings. */
const POLL_MS = 20;
const CLOCK_TICKS_PER_S = 100;
const OPERATION_TIMEOUT_MS = 10 * 60 * 1000;

export interface ApiTiming {
  readonly median_s: number;
  readonly cpu_s: number;
  readonly samples_s: number[];
}

export interface ApiComparison {
  readonly api: ApiTiming;
  readonly engine: ApiTiming;
  /** API median over engine-only median, measured in the same rounds. */
  readonly ratio: number;
  readonly sha256_ok: boolean;
}

interface Round {
  readonly apiFull: { wall_s: number; cpu_s: number };
  readonly apiRestore: { wall_s: number; cpu_s: number };
  readonly engineFull: { wall_s: number; cpu_s: number };
  readonly engineRestore: { wall_s: number; cpu_s: number };
  readonly ok: boolean;
}

/** `stowage serve` on the embedded default (SQLite, posix), noauth on a free loopback port. */
class BenchService {
  readonly #child: ChildProcess;
  readonly #url: string;
  #log = '';

  private constructor(child: ChildProcess, url: string) {
    this.#child = child;
    this.#url = url;
    child.stderr?.on('data', (chunk: Buffer) => (this.#log = (this.#log + chunk.toString()).slice(-20_000)));
    child.stdout?.on('data', (chunk: Buffer) => (this.#log = (this.#log + chunk.toString()).slice(-20_000)));
  }

  static async start(directory: string): Promise<BenchService> {
    const port = await freePort();
    const config = {
      host: 'bench',
      listen: `127.0.0.1:${port}`,
      state_path: join(directory, 'state'),
      volumes_dir: join(directory, 'volumes'),
      quota_backups: -1,
      quota_backup_gigabytes: -1,
      quota_volumes: -1,
      quota_gigabytes: -1,
      backends: [{ name: 'posix', driver: '@stowage/driver-posix', options: { path: join(directory, 'backups'), create_path: true } }],
    };
    const configPath = join(directory, 'stowage.yaml');
    // YAML is a superset of JSON.
    await writeFile(configPath, JSON.stringify(config, null, 2));
    const child = spawn(process.execPath, [CLI, 'serve', '--config', configPath], {
      cwd: directory,
      env: { ...process.env, STOWAGE_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const service = new BenchService(child, `http://127.0.0.1:${port}`);
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`stowage serve exited at start:\n${service.#log}`);
      const up = await service.call('GET', '/os-services').catch(() => undefined);
      if (up?.status === 200 && up.body.services?.some((entry: { state: string }) => entry.state === 'up')) return service;
      if (Date.now() > deadline) {
        await service.stop();
        throw new Error(`stowage serve had no backend up within 60 s:\n${service.#log}`);
      }
      await sleep(100);
    }
  }

  /** The service process's CPU-seconds so far (its worker threads included), from /proc. */
  async cpuSeconds(): Promise<number> {
    const stat = await readFile(`/proc/${this.#child.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of stat(5); `fields` starts at field 3.
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_S;
  }

  async call(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
    const response = await fetch(`${this.#url}/v3/bench${path}`, {
      method,
      headers: {
        'X-Auth-Token': 'bench:bench',
        'OpenStack-API-Version': 'volume 3.70',
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? null : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : null };
  }

  /** Poll `path` every POLL_MS until `done` returns a value; a failure status throws with the service's log. */
  async until<T>(what: string, path: string, done: (body: any) => T | undefined): Promise<T> {
    const deadline = Date.now() + OPERATION_TIMEOUT_MS;
    for (;;) {
      const { status, body } = await this.call('GET', path);
      if (status !== 200) throw new Error(`${what}: GET ${path} answered ${status}: ${JSON.stringify(body)}`);
      const value = done(body);
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error(`${what}: not done within ${OPERATION_TIMEOUT_MS / 1000} s`);
      await sleep(POLL_MS);
    }
  }

  async stop(): Promise<void> {
    if (this.#child.exitCode !== null) return;
    const exited = new Promise((resolveExit) => this.#child.once('exit', resolveExit));
    this.#child.kill('SIGTERM');
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), 30_000);
    await exited;
    clearTimeout(timer);
  }
}

/**
 * Warm-up plus `options.rounds` rounds, each: the engine-only child's full backup and restore of the volume, then
 * the same through the API (alternating which goes first), every restore sha256-checked.
 */
export async function runThroughApi(options: BenchOptions, base: BaseVolume): Promise<{ full: ApiComparison; restore: ApiComparison }> {
  const directory = join(options.workDir, 'api');
  await rm(directory, { recursive: true, force: true });
  await mkdir(directory, { recursive: true });
  console.log(`\nthrough the API: stowage serve (SQLite, posix), full backup and restore into a new volume, polled every ${POLL_MS} ms`);
  const service = await BenchService.start(directory);
  const rounds: Round[] = [];
  try {
    const gib = Math.ceil(base.sizeMib / 1024);
    const created = await service.call('POST', '/volumes', { volume: { size: gib, name: 'bench-source' } });
    if (created.status !== 202) throw new Error(`volume create answered ${created.status}: ${JSON.stringify(created.body)}`);
    const volumeId = created.body.volume.id as string;
    await service.until('source volume', `/volumes/${volumeId}`, (body) => (body.volume.status === 'available' ? true : undefined));
    const volumeFile = join(directory, 'volumes', `volume-${volumeId}`);
    await runPlain('cp', ['--sparse=always', base.path, volumeFile]);
    // The volume's size is whole GiB; a smaller bench volume (--quick) is its leading part.
    await runPlain('truncate', ['-s', `${gib}G`, volumeFile]);
    await runPlain('sync', []);
    const expectedSha = await sha256File(volumeFile);

    const total = options.warmup + options.rounds;
    for (let index = 0; index < total; index += 1) {
      const label = index < options.warmup ? `warm-up ${index + 1}/${options.warmup}` : `round ${index - options.warmup + 1}/${options.rounds}`;
      const engineFirst = index % 2 === 0;
      const api = () => apiRound(service, join(directory, 'volumes'), volumeId, expectedSha, `${index}`);
      const engine = () => engineRound(join(directory, `engine-${index}`), volumeFile, expectedSha);
      const first = engineFirst ? await engine() : await api();
      const second = engineFirst ? await api() : await engine();
      const [engineRun, apiRun] = engineFirst ? [first, second] : [second, first];
      const round: Round = {
        apiFull: apiRun.full,
        apiRestore: apiRun.restore,
        engineFull: engineRun.full,
        engineRestore: engineRun.restore,
        ok: apiRun.ok && engineRun.ok,
      };
      const load = (await loadSnapshot()).load1;
      console.log(
        `  ${label.padEnd(12)} full api ${round.apiFull.wall_s.toFixed(2)} s / engine ${round.engineFull.wall_s.toFixed(2)} s; ` +
          `restore api ${round.apiRestore.wall_s.toFixed(2)} s / engine ${round.engineRestore.wall_s.toFixed(2)} s; load ${load.toFixed(2)}${round.ok ? ' sha256 ok' : ' SHA256 MISMATCH'}`,
      );
      if (index >= options.warmup) rounds.push(round);
    }
  } finally {
    await service.stop();
    await rm(directory, { recursive: true, force: true });
  }
  const timing = (pick: (round: Round) => { wall_s: number; cpu_s: number }): ApiTiming => ({
    median_s: round(median(rounds.map((entry) => pick(entry).wall_s))),
    cpu_s: round(median(rounds.map((entry) => pick(entry).cpu_s))),
    samples_s: rounds.map((entry) => round(pick(entry).wall_s)),
  });
  const ok = rounds.every((entry) => entry.ok);
  const compare = (api: ApiTiming, engine: ApiTiming): ApiComparison => ({ api, engine, ratio: round(api.median_s / engine.median_s), sha256_ok: ok });
  return {
    full: compare(timing((entry) => entry.apiFull), timing((entry) => entry.engineFull)),
    restore: compare(timing((entry) => entry.apiRestore), timing((entry) => entry.engineRestore)),
  };
}

/** One full backup and one restore into a new volume through the API, timed from the POST to `available`. */
async function apiRound(service: BenchService, volumesDir: string, volumeId: string, expectedSha: string, name: string) {
  await runPlain('sync', []);
  let cpuBefore = await service.cpuSeconds();
  let started = process.hrtime.bigint();
  const created = await service.call('POST', '/backups', { backup: { volume_id: volumeId, name: `bench-${name}` } });
  if (created.status !== 202) throw new Error(`backup create answered ${created.status}: ${JSON.stringify(created.body)}`);
  const backupId = created.body.backup.id as string;
  await service.until('backup', `/backups/${backupId}`, (body) => {
    if (body.backup.status === 'error') throw new Error(`backup failed: ${body.backup.fail_reason}`);
    return body.backup.status === 'available' ? true : undefined;
  });
  const full = { wall_s: seconds(started), cpu_s: (await service.cpuSeconds()) - cpuBefore };

  await runPlain('sync', []);
  cpuBefore = await service.cpuSeconds();
  started = process.hrtime.bigint();
  const restored = await service.call('POST', `/backups/${backupId}/restore`, { restore: { name: `restored-${name}` } });
  if (restored.status !== 202) throw new Error(`restore answered ${restored.status}: ${JSON.stringify(restored.body)}`);
  const targetId = restored.body.restore.volume_id as string;
  await service.until('restore', `/volumes/${targetId}`, (body) => {
    if (body.volume.status === 'error_restoring' || body.volume.status === 'error') throw new Error(`restore failed: volume ${body.volume.status}`);
    return body.volume.status === 'available' ? true : undefined;
  });
  const restore = { wall_s: seconds(started), cpu_s: (await service.cpuSeconds()) - cpuBefore };
  const ok = (await sha256File(join(volumesDir, `volume-${targetId}`))) === expectedSha;

  // Keep the disk bounded: drop this round's backup and volume (not timed).
  await service.call('DELETE', `/volumes/${targetId}`);
  await service.call('DELETE', `/backups/${backupId}`);
  await service.until('backup deleted', `/backups?all_tenants=1`, (body) => (body.backups.some((entry: { id: string }) => entry.id === backupId) ? undefined : true));
  return { full, restore, ok };
}

async function engineRound(directory: string, volumeFile: string, expectedSha: string) {
  const tool = new StowageTool();
  await tool.init(directory);
  await runPlain('sync', []);
  const full = await tool.backup('full', volumeFile);
  await runPlain('sync', []);
  const restore = await tool.restore('full', join(directory, 'restore'));
  const ok = (await sha256File(restore.restoredPath)) === expectedSha;
  await rm(directory, { recursive: true, force: true });
  const measured = (run: typeof full) => ({ wall_s: run.measured.wall_s, cpu_s: run.measured.user_s + run.measured.sys_s });
  return { full: measured(full), restore: measured(restore), ok };
}

function seconds(since: bigint): number {
  return Number(process.hrtime.bigint() - since) / 1e9;
}
