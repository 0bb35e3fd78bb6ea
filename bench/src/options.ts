import { parseArgs } from 'node:util';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { EngineOverrides } from './child/protocol.js';
import type { ToolName } from './tools/tool.js';

export const BENCH_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const REPO_ROOT = resolve(BENCH_ROOT, '..');

export interface BenchOptions {
  readonly sizeMib: number;
  readonly rounds: number;
  readonly warmup: number;
  readonly seed: string;
  readonly tools: readonly ToolName[];
  readonly drivers: boolean;
  /** Stowage full backup and restore encrypted beside plain ones, interleaved (bench/src/encrypted-bench.ts). */
  readonly encryption: boolean;
  readonly large: boolean;
  readonly largeSizeMib: number;
  /** The sparse scenario: the volume's data spread over a `sparseSizeMib` sparse file, every tool. */
  readonly sparse: boolean;
  readonly sparseSizeMib: number;
  /** Stowage alone on a `largeSparseSizeMib` sparse volume: time and peak RSS. */
  readonly largeSparse: boolean;
  readonly largeSparseSizeMib: number;
  /** Full backup and restore through the running service's API, beside the engine-only child. */
  readonly api: boolean;
  readonly profile: boolean;
  readonly workDir: string;
  readonly out: string;
  readonly quick: boolean;
  /** Extra environment for Stowage's child processes only. */
  readonly stowageEnv: Record<string, string>;
  /** Before each round, wait up to this many seconds for the machine to be quiet. */
  readonly quietWait: number;
  /** `BackupEngine` option overrides for Stowage's runs (tuning experiments). */
  readonly engineOptions: EngineOverrides | undefined;
}

const USAGE = `usage: pnpm bench [options]
  --rounds N          measured rounds after the warm-up (default 3; --quick: 1)
  --warmup N          warm-up rounds, not counted (default 1)
  --size-mib N        volume size in MiB (default 1024; --quick: 64)
  --quick             smoke run: 64 MiB, 1 round, results/quick.json
  --large             also back up and restore a 4 GiB volume with Stowage (peak RSS check)
  --large-size-mib N  size for --large (default 4096)
  --no-sparse         skip the sparse scenario (the volume's data spread over a 64 GiB sparse file, every tool)
  --sparse-size-mib N size of the sparse scenario's file (default 65536; --quick: 4096)
  --large-sparse      also back up and restore a 1 TiB sparse volume holding the same data with Stowage (time, RSS)
  --large-sparse-size-mib N  size for --large-sparse (default 1048576)
  --no-api            skip timing full backup and restore through the running service's API
  --profile           also CPU-profile one Stowage run per scenario and time its building blocks
  --tools LIST        comma-separated subset of stowage,restic,borg (default all)
  --no-drivers        skip the driver-versus-raw-transfer comparisons
  --no-encryption     skip the encrypted-versus-plain Stowage full backup and restore
  --seed S            volume seed (default stowage-bench-1)
  --work-dir DIR      scratch space for volumes and repositories (default bench/work)
  --out FILE          results JSON (default bench/results/latest.json)
  --quiet-wait S       before each round wait up to S seconds for CPU pressure < 10% (default 0)
  --engine-options J  BackupEngine option overrides as JSON, e.g. '{"concurrency":6}' or
                      '{"compression":{"algorithm":"none"}}' (tuning experiments; recorded in the results)
  --stowage-env K=V   environment for Stowage's processes only, repeatable (tuning experiments,
                      e.g. UV_THREADPOOL_SIZE=8); recorded in the results`;

export function parseOptions(argv: readonly string[]): BenchOptions {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      rounds: { type: 'string' },
      warmup: { type: 'string' },
      'size-mib': { type: 'string' },
      quick: { type: 'boolean', default: false },
      large: { type: 'boolean', default: false },
      'large-size-mib': { type: 'string' },
      'no-sparse': { type: 'boolean', default: false },
      'sparse-size-mib': { type: 'string' },
      'large-sparse': { type: 'boolean', default: false },
      'large-sparse-size-mib': { type: 'string' },
      'no-api': { type: 'boolean', default: false },
      profile: { type: 'boolean', default: false },
      tools: { type: 'string' },
      'no-drivers': { type: 'boolean', default: false },
      'no-encryption': { type: 'boolean', default: false },
      seed: { type: 'string' },
      'work-dir': { type: 'string' },
      out: { type: 'string' },
      'stowage-env': { type: 'string', multiple: true },
      'quiet-wait': { type: 'string' },
      'engine-options': { type: 'string' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const quick = values.quick ?? false;
  const tools = (values.tools ?? 'stowage,restic,borg').split(',').map((name) => name.trim());
  for (const tool of tools) {
    if (tool !== 'stowage' && tool !== 'restic' && tool !== 'borg') throw new Error(`unknown tool ${tool}\n${USAGE}`);
  }
  return {
    sizeMib: positive(values['size-mib'], quick ? 64 : 1024, '--size-mib'),
    rounds: positive(values.rounds, quick ? 1 : 3, '--rounds'),
    warmup: nonNegative(values.warmup, 1, '--warmup'),
    seed: values.seed ?? 'stowage-bench-1',
    tools: tools as ToolName[],
    drivers: !(values['no-drivers'] ?? false),
    encryption: !(values['no-encryption'] ?? false),
    large: values.large ?? false,
    largeSizeMib: positive(values['large-size-mib'], 4096, '--large-size-mib'),
    sparse: !(values['no-sparse'] ?? false),
    sparseSizeMib: positive(values['sparse-size-mib'], quick ? 4096 : 65_536, '--sparse-size-mib'),
    largeSparse: values['large-sparse'] ?? false,
    largeSparseSizeMib: positive(values['large-sparse-size-mib'], 1_048_576, '--large-sparse-size-mib'),
    api: !(values['no-api'] ?? false),
    profile: values.profile ?? false,
    workDir: resolve(values['work-dir'] ?? join(BENCH_ROOT, 'work')),
    out: resolve(values.out ?? join(BENCH_ROOT, 'results', quick ? 'quick.json' : 'latest.json')),
    quick,
    stowageEnv: parseEnvironment(values['stowage-env'] ?? []),
    quietWait: nonNegative(values['quiet-wait'], 0, '--quiet-wait'),
    engineOptions: values['engine-options'] === undefined ? undefined : (JSON.parse(values['engine-options']) as EngineOverrides),
  };
}

function positive(value: string | undefined, fallback: number, flag: string): number {
  const parsed = value === undefined ? fallback : Number(value);
  if (!Number.isInteger(parsed) || parsed <= 0) throw new Error(`${flag} must be a positive integer, got ${value}\n${USAGE}`);
  return parsed;
}

function nonNegative(value: string | undefined, fallback: number, flag: string): number {
  const parsed = value === undefined ? fallback : Number(value);
  if (!Number.isInteger(parsed) || parsed < 0) throw new Error(`${flag} must be a non-negative integer, got ${value}\n${USAGE}`);
  return parsed;
}

function parseEnvironment(pairs: readonly string[]): Record<string, string> {
  const environment: Record<string, string> = {};
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new Error(`--stowage-env takes KEY=VALUE, got ${pair}\n${USAGE}`);
    environment[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return environment;
}
