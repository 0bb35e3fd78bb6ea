import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** One measured process: wall time from spawn to exit, CPU time and peak RSS as GNU time reports them. */
export interface Measured {
  readonly wall_s: number;
  readonly user_s: number;
  readonly sys_s: number;
  readonly peak_rss_mib: number;
  /** Page faults served without I/O: first touches of freshly mapped memory (large allocations) show up here. */
  readonly minor_faults: number;
  /** Times the process was preempted: high when the machine is busy with other work. */
  readonly involuntary_switches: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  readonly cwd?: string | undefined;
  readonly env?: Record<string, string> | undefined;
  /** Kill the process after this long (a benchmark never hangs the session). */
  readonly timeoutMs?: number | undefined;
}

const GNU_TIME = '/usr/bin/time';
const DEFAULT_TIMEOUT_MS = 20 * 60 * 1000;

/**
 * Run `command` under `/usr/bin/time -v` so every tool, ours and the peers, is measured the same way:
 * whole-process wall time (start-up included) and the kernel's peak RSS of the process.
 */
export async function runMeasured(command: string, args: readonly string[], options: RunOptions = {}): Promise<Measured> {
  const scratch = await mkdtemp(join(tmpdir(), 'stowage-bench-time-'));
  const timeFile = join(scratch, 'time.txt');
  try {
    const started = process.hrtime.bigint();
    const { code, signal, stdout, stderr } = await spawnCollect(GNU_TIME, ['-v', '-o', timeFile, command, ...args], options);
    const wall_s = Number(process.hrtime.bigint() - started) / 1e9;
    if (code !== 0) {
      const what = signal !== null ? `was killed by ${signal}` : `exited with ${code}`;
      throw new Error(`${command} ${args.join(' ')} ${what}:\n${tail(stderr)}\n${tail(stdout)}`);
    }
    const report = await readFile(timeFile, 'utf8');
    return {
      wall_s,
      user_s: timeField(report, 'User time (seconds)'),
      sys_s: timeField(report, 'System time (seconds)'),
      peak_rss_mib: timeField(report, 'Maximum resident set size (kbytes)') / 1024,
      minor_faults: timeField(report, 'Minor (reclaiming a frame) page faults'),
      involuntary_switches: timeField(report, 'Involuntary context switches'),
      stdout,
      stderr,
    };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** Run a command that is not measured (set-up, `sync`); throws with its output when it fails. */
export async function runPlain(command: string, args: readonly string[], options: RunOptions = {}): Promise<string> {
  const { code, stdout, stderr } = await spawnCollect(command, args, options);
  if (code !== 0) throw new Error(`${command} ${args.join(' ')} exited with ${code}:\n${tail(stderr)}`);
  return stdout;
}

export async function commandExists(command: string): Promise<boolean> {
  const { code } = await spawnCollect('sh', ['-c', `command -v ${command}`], {}).catch(() => ({ code: 1 }));
  return code === 0;
}

interface Collected {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function spawnCollect(command: string, args: readonly string[], options: RunOptions): Promise<Collected> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (part: Buffer) => out.push(part));
    child.stderr.on('data', (part: Buffer) => err.push(part));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
    });
  });
}

function timeField(report: string, label: string): number {
  const line = report.split('\n').find((candidate) => candidate.trim().startsWith(label));
  const value = line === undefined ? Number.NaN : Number(line.slice(line.lastIndexOf(':') + 1).trim());
  if (!Number.isFinite(value)) throw new Error(`GNU time report has no "${label}":\n${report}`);
  return value;
}

function tail(text: string, lines = 20): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}
