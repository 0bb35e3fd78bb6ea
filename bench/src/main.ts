/**
 * `pnpm bench`: Stowage's engine against restic and borg on one seeded volume, interleaved in the same run,
 * each operation in its own process so its peak RSS is its own. See docs/benchmarks.md.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { ensureTools } from './peers.js';
import { loadSnapshot, waitForQuiet, type LoadSnapshot } from './load.js';
import { runDriverComparisons, type DriverComparison } from './driver-bench.js';
import { runPlain } from './measure.js';
import { parseOptions, REPO_ROOT, type BenchOptions } from './options.js';
import { printReport } from './report.js';
import { median, round } from './stats.js';
import { summarizeProfile, type ProfileEntry } from './profile-summary.js';
import { BorgTool } from './tools/borg-tool.js';
import { ResticTool } from './tools/restic-tool.js';
import { configureStowageChildren, runStowageChild, StowageTool } from './tools/stowage-tool.js';
import type { BenchTool, ToolName, ToolRun } from './tools/tool.js';
import type { ChildReport, PhaseTimes } from './child/protocol.js';
import { warmPageCache } from './fs-util.js';
import { baseVolume, copyVolume, mutateVolume, sha256File, type BaseVolume } from './volume.js';
import { sameSparseContent } from '@stowage/testkit';
import { allocatedBytes, mutateSparse, sparseFromBase } from './sparse.js';
import { runThroughApi } from './api-bench.js';
import { runEncryptionComparison } from './encrypted-bench.js';

export const SCENARIOS = ['full', 'incremental', 'restore'] as const;
export type Scenario = (typeof SCENARIOS)[number];

export interface Sample {
  readonly tool: ToolName;
  readonly scenario: Scenario;
  readonly round: number;
  readonly wall_s: number;
  readonly cpu_s: number;
  readonly user_s: number;
  readonly sys_s: number;
  readonly minor_faults: number;
  readonly involuntary_switches: number;
  readonly peak_rss_mib: number;
  readonly stored_bytes: number;
  readonly sha256_ok: boolean | undefined;
  readonly load1: number;
  readonly cpu_pressure_avg10: number | undefined;
  readonly io_pressure_avg10: number | undefined;
  readonly report?: ChildReport | undefined;
  /** What a peer reported about the run (restic's summary, borg's stats). */
  readonly peer?: Record<string, unknown> | undefined;
}

export interface ToolResult {
  median_s: number;
  mib_s: number;
  peak_rss_mib: number;
  stored_bytes: number;
  sha256_ok: boolean;
  peak_rss_mib_max: number;
  cpu_s: number;
  /** Kernel share of cpu_s (copies to and from the page cache, fsync, mmap faults). */
  sys_s: number;
  minor_faults: number;
  samples_s: number[];
}

export interface Target {
  readonly name: string;
  readonly required: string;
  readonly measured: number;
  readonly pass: boolean;
}

/**
 * The peers' published numbers for this exact workload (1 GiB, this machine kind, warm cache), from the issue.
 * Shown next to the peers' numbers measured in the same run: a large gap means the machine was busy.
 */
export const PUBLISHED_PEERS = {
  volume_mib: 1024,
  full: { restic: 4.2, borg: 2.9 },
  incremental: { restic: 2.5, borg: 2.2 },
  restore: { restic: 2.1, borg: 3.7 },
  peak_rss_mib: { restic: 108, borg: 78 },
} as const;

/** Whether restoring each tool's full backup gave back the source volume (checked in the first round). */
const fullVerified = new Map<ToolName, boolean>();

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  await ensureTools(options.tools);
  configureStowageChildren(options.stowageEnv, options.engineOptions);
  const loadAtStart = loadavg();
  console.log(`stowage bench: ${options.sizeMib} MiB volume, ${options.warmup} warm-up + ${options.rounds} rounds, tools ${options.tools.join(', ')}`);
  if (Object.keys(options.stowageEnv).length > 0 || options.engineOptions !== undefined) {
    console.log(`Stowage tuning: env ${JSON.stringify(options.stowageEnv)}, engine options ${JSON.stringify(options.engineOptions ?? {})}`);
  }
  console.log(`load at start: ${loadAtStart.map((value) => value.toFixed(2)).join(' ')} (${cpus().length} cores)`);

  await mkdir(options.workDir, { recursive: true });
  const base = await baseVolume(options.workDir, options.sizeMib, options.seed);
  const tools = makeTools(options.tools);
  const samples = await runRounds(options, base, tools);
  const scenarios = summarize(samples, options.sizeMib, options.tools);
  const targets = evaluateTargets(scenarios, samples);

  const api = options.api ? await runThroughApi(options, base) : undefined;
  if (api !== undefined) {
    for (const scenario of ['full', 'restore'] as const) {
      const { ratio } = api[scenario];
      targets.push({ name: `${scenario} through the API vs engine-only, same rounds`, required: '<= 1.15x', measured: ratio, pass: ratio <= 1.15 });
    }
    const identical = api.full.sha256_ok ? 1 : 0;
    targets.push({ name: 'restores through the API identical (1 = yes)', required: '= 1', measured: identical, pass: identical === 1 });
  }
  const encryption = options.encryption ? await runEncryptionComparison(options, base) : undefined;
  if (encryption !== undefined) targets.push(...encryption.targets);
  const drivers: DriverComparison[] = options.drivers ? await runDriverComparisons(options, base) : [];
  const large = options.large ? await runLarge(options) : undefined;
  const sparse = options.sparse ? await runSparse(options, base, scenarios) : undefined;
  if (sparse !== undefined) targets.push(...sparse.targets);
  const largeSparse = options.largeSparse ? await runLargeSparse(options, base) : undefined;
  if (largeSparse !== undefined) targets.push(...largeSparse.targets);
  if (large !== undefined) {
    const worst = Math.max(large.full.peak_rss_mib, large.restore.peak_rss_mib);
    targets.push({ name: `Stowage peak RSS, ${large.volume_mib} MiB full + restore (MiB)`, required: '<= 256', measured: worst, pass: worst <= 256 });
    const verified = large.full.sha256_ok ? 1 : 0;
    targets.push({ name: `Stowage ${large.volume_mib} MiB restore identical (1 = yes)`, required: '= 1', measured: verified, pass: verified === 1 });
  }
  const profile = options.profile ? await runProfile(options, base) : undefined;

  const loadAtEnd = loadavg();
  const results = {
    volume_mib: options.sizeMib,
    scenarios,
    ratios: ratios(scenarios),
    published_peers: PUBLISHED_PEERS,
    targets,
    stowage_phases: stowagePhases(samples),
    drivers,
    ...(api === undefined ? {} : { api }),
    ...(encryption === undefined ? {} : { encryption: encryption.results }),
    ...(large === undefined ? {} : { large }),
    ...(sparse === undefined ? {} : { sparse: sparse.results, sparse_volume: sparse.volume }),
    ...(largeSparse === undefined ? {} : { large_sparse: largeSparse.results }),
    ...(profile === undefined ? {} : { profile }),
    run: {
      finished_at: new Date().toISOString(),
      rounds: options.rounds,
      warmup: options.warmup,
      seed: options.seed,
      volume_sha256: base.sha256,
      cpus: cpus().length,
      cpu_model: cpus()[0]?.model ?? 'unknown',
      node: process.version,
      git: await gitState(),
      stowage_env: options.stowageEnv,
      engine_options: options.engineOptions ?? null,
      load_start: loadAtStart.map((value) => round(value, 2)),
      load_end: loadAtEnd.map((value) => round(value, 2)),
      load1_per_sample_max: round(Math.max(...samples.map((sample) => sample.load1)), 2),
      cpu_pressure_avg10_per_sample_median: round(median(samples.map((sample) => sample.cpu_pressure_avg10 ?? Number.NaN)), 1),
      io_pressure_avg10_per_sample_median: round(median(samples.map((sample) => sample.io_pressure_avg10 ?? Number.NaN)), 1),
      tools: Object.fromEntries(await Promise.all(tools.map(async (tool) => [tool.name, { version: await tool.version(), settings: tool.settings }]))),
    },
    samples: samples.map(({ report: _report, ...rest }) => rest),
  };
  await mkdir(dirname(options.out), { recursive: true });
  await writeFile(options.out, `${JSON.stringify(results, null, 2)}\n`);
  printReport(results);
  console.log(`\nload at end: ${loadAtEnd.map((value) => value.toFixed(2)).join(' ')}; results written to ${options.out}`);
}

/** Which code was measured: the commit and whether the work tree had changes (the engine under tuning). */
async function gitState(): Promise<{ commit: string; dirty: boolean } | undefined> {
  try {
    const commit = (await runPlain('git', ['rev-parse', 'HEAD'], { cwd: REPO_ROOT })).trim();
    const status = await runPlain('git', ['status', '--porcelain', '--', 'packages'], { cwd: REPO_ROOT });
    return { commit, dirty: status.trim() !== '' };
  } catch {
    return undefined;
  }
}

function makeTools(names: readonly ToolName[]): BenchTool[] {
  return names.map((name) => (name === 'stowage' ? new StowageTool() : name === 'restic' ? new ResticTool() : new BorgTool()));
}

/** Every round: fresh repositories, full backup by each tool, the 1% change, incremental by each, restore by each. */
async function runRounds(options: BenchOptions, base: BaseVolume, tools: BenchTool[]): Promise<Sample[]> {
  const samples: Sample[] = [];
  const total = options.warmup + options.rounds;
  for (let index = 0; index < total; index += 1) {
    const warm = index < options.warmup;
    const label = warm ? `warm-up ${index + 1}/${options.warmup}` : `round ${index - options.warmup + 1}/${options.rounds}`;
    if (options.quietWait > 0) {
      const quiet = await waitForQuiet(options.quietWait);
      console.log(`  ${label}: load ${quiet.load1.toFixed(2)}, cpu pressure ${quiet.cpu_pressure_avg10 ?? 'n/a'}%, io pressure ${quiet.io_pressure_avg10 ?? 'n/a'}%`);
    }
    const roundDir = join(options.workDir, 'round');
    await rm(roundDir, { recursive: true, force: true });
    await mkdir(roundDir, { recursive: true });
    const volumePath = join(roundDir, 'volume.img');
    await copyVolume(base, volumePath);
    // Rotating the order spreads any position effect (writeback, cache) across the tools.
    const order = tools.map((_, at) => tools[(at + index) % tools.length]!);
    const afterFull = new Map<ToolName, number>();
    const roundSamples: Sample[] = [];
    const record = (sample: Sample) => {
      roundSamples.push(sample);
      const rss = sample.peak_rss_mib.toFixed(0).padStart(4);
      const ok = sample.sha256_ok === undefined ? '' : sample.sha256_ok ? ' sha256 ok' : ' SHA256 MISMATCH';
      console.log(
        `  ${label.padEnd(12)} ${sample.scenario.padEnd(11)} ${sample.tool.padEnd(7)} ${sample.wall_s.toFixed(2).padStart(7)} s  rss ${rss} MiB  load ${sample.load1.toFixed(2)} cpu-psi ${sample.cpu_pressure_avg10 ?? '-'}% io-psi ${sample.io_pressure_avg10 ?? '-'}%${ok}`,
      );
    };

    for (const tool of order) await tool.init(join(roundDir, tool.name));
    for (const tool of order) {
      const run = await measuredStep(() => tool.backup('full', volumePath), volumePath);
      const stored = await tool.repositoryBytes();
      afterFull.set(tool.name, stored);
      record(sampleOf(tool.name, 'full', index, run, stored, undefined));
    }
    const mutatedSha = await mutateVolume(volumePath, options.seed);
    for (const tool of order) {
      const run = await measuredStep(() => tool.backup('incremental', volumePath), volumePath);
      const stored = (await tool.repositoryBytes()) - (afterFull.get(tool.name) ?? 0);
      record(sampleOf(tool.name, 'incremental', index, run, stored, undefined));
    }
    for (const tool of order) {
      const target = join(roundDir, tool.name, 'restore-incremental');
      const run = await measuredStep(() => tool.restore('incremental', target));
      const ok = (await sha256File(run.restoredPath)) === mutatedSha;
      await rm(target, { recursive: true, force: true });
      record(sampleOf(tool.name, 'restore', index, run, await tool.repositoryBytes(), ok));
    }
    // The restore of the incremental proves the chain; the full backup alone is proven once, in the first round.
    if (index === 0) {
      for (const tool of order) {
        const target = join(roundDir, tool.name, 'restore-full');
        const run = await tool.restore('full', target);
        const ok = (await sha256File(run.restoredPath)) === base.sha256;
        await rm(target, { recursive: true, force: true });
        console.log(`  ${label.padEnd(12)} verify full ${tool.name.padEnd(7)} ${ok ? 'sha256 ok' : 'SHA256 MISMATCH'}`);
        fullVerified.set(tool.name, ok);
      }
    }
    await rm(roundDir, { recursive: true, force: true });
    if (!warm) samples.push(...roundSamples);
  }
  return samples;
}

/**
 * Flush earlier writes first so one tool's writeback is not charged to the next; put the volume a backup reads in
 * the page cache (`warmPageCache`); note the load it ran under.
 */
async function measuredStep<T>(step: () => Promise<T>, reads?: string): Promise<T> {
  if (reads !== undefined) await warmPageCache(reads);
  await runPlain('sync', []);
  lastLoad = await loadSnapshot();
  return step();
}

let lastLoad: LoadSnapshot = { load1: Number.NaN, cpu_pressure_avg10: undefined, io_pressure_avg10: undefined };

function sampleOf(tool: ToolName, scenario: Scenario, index: number, run: ToolRun, stored: number, ok: boolean | undefined): Sample {
  const { measured } = run;
  const report = tool === 'stowage' ? (run.detail as ChildReport | undefined) : undefined;
  return {
    tool,
    scenario,
    round: index,
    wall_s: measured.wall_s,
    cpu_s: measured.user_s + measured.sys_s,
    user_s: measured.user_s,
    sys_s: measured.sys_s,
    minor_faults: measured.minor_faults,
    involuntary_switches: measured.involuntary_switches,
    peak_rss_mib: measured.peak_rss_mib,
    stored_bytes: stored,
    sha256_ok: ok,
    load1: lastLoad.load1,
    cpu_pressure_avg10: lastLoad.cpu_pressure_avg10,
    io_pressure_avg10: lastLoad.io_pressure_avg10,
    report,
    peer: tool === 'stowage' ? undefined : run.detail,
  };
}

function summarize(samples: readonly Sample[], volumeMib: number, tools: readonly ToolName[]) {
  const scenarios: Record<string, Record<string, ToolResult>> = {};
  for (const scenario of SCENARIOS) {
    const byTool: Record<string, ToolResult> = {};
    for (const tool of tools) {
      const mine = samples.filter((sample) => sample.scenario === scenario && sample.tool === tool);
      if (mine.length === 0) continue;
      const seconds = median(mine.map((sample) => sample.wall_s));
      const restoreOk = samples.filter((sample) => sample.scenario === 'restore' && sample.tool === tool).every((sample) => sample.sha256_ok === true);
      const sha256_ok = scenario === 'full' ? fullVerified.get(tool) === true : restoreOk;
      byTool[tool] = {
        median_s: round(seconds),
        mib_s: round(volumeMib / seconds, 1),
        peak_rss_mib: round(median(mine.map((sample) => sample.peak_rss_mib)), 1),
        stored_bytes: Math.round(median(mine.map((sample) => sample.stored_bytes))),
        sha256_ok,
        peak_rss_mib_max: round(Math.max(...mine.map((sample) => sample.peak_rss_mib)), 1),
        cpu_s: round(median(mine.map((sample) => sample.cpu_s))),
        sys_s: round(median(mine.map((sample) => sample.sys_s))),
        minor_faults: Math.round(median(mine.map((sample) => sample.minor_faults))),
        samples_s: mine.map((sample) => round(sample.wall_s)),
      };
    }
    scenarios[scenario] = byTool;
  }
  return scenarios as Record<Scenario, Record<string, ToolResult>>;
}

/** Stowage's advantage per peer: throughput ratio for full and restore, time ratio (lower is better) for incremental. */
function ratios(scenarios: Record<Scenario, Record<string, ToolResult>>) {
  const out: Record<string, Record<string, number>> = {};
  for (const scenario of SCENARIOS) {
    const ours = scenarios[scenario]['stowage'];
    if (ours === undefined) continue;
    const entry: Record<string, number> = {};
    for (const peer of ['restic', 'borg']) {
      const theirs = scenarios[scenario][peer];
      if (theirs === undefined) continue;
      if (scenario === 'incremental') entry[`time_vs_${peer}`] = round(ours.median_s / theirs.median_s);
      else entry[`throughput_vs_${peer}`] = round(theirs.median_s / ours.median_s);
      // CPU seconds are far less sensitive to a busy machine than wall time: a second view of the same race.
      entry[`cpu_seconds_${peer}_over_stowage`] = round(theirs.cpu_s / ours.cpu_s);
    }
    out[scenario] = entry;
  }
  return out;
}

function evaluateTargets(scenarios: Record<Scenario, Record<string, ToolResult>>, samples: readonly Sample[]): Target[] {
  const targets: Target[] = [];
  const ours = (scenario: Scenario) => scenarios[scenario]['stowage'];
  const peer = (scenario: Scenario, name: string) => scenarios[scenario][name];
  const add = (name: string, required: string, measured: number | undefined, pass: (value: number) => boolean) => {
    if (measured === undefined || !Number.isFinite(measured)) return;
    targets.push({ name, required, measured: round(measured), pass: pass(measured) });
  };
  const throughput = (scenario: Scenario, name: string) => {
    const theirs = peer(scenario, name);
    const mine = ours(scenario);
    return theirs && mine ? theirs.median_s / mine.median_s : undefined;
  };
  add('full backup throughput vs restic', '>= 2.0x', throughput('full', 'restic'), (value) => value >= 2.0);
  add('full backup throughput vs borg lz4', '>= 1.5x', throughput('full', 'borg'), (value) => value >= 1.5);
  const incrementalTheirs = peer('incremental', 'restic');
  const incrementalMine = ours('incremental');
  add(
    'incremental time vs restic',
    '<= 0.4x',
    incrementalTheirs && incrementalMine ? incrementalMine.median_s / incrementalTheirs.median_s : undefined,
    (value) => value <= 0.4,
  );
  add('restore throughput vs restic', '>= 1.5x', throughput('restore', 'restic'), (value) => value >= 1.5);
  // CPU-seconds stay comparable when the machine is busy; wall time wins only while both cores are free.
  const fullBorg = peer('full', 'borg');
  add('full backup CPU-seconds vs borg lz4', '<= 0.8x', fullBorg && ours('full') ? ours('full')!.cpu_s / fullBorg.cpu_s : undefined, (value) => value <= 0.8);
  if (incrementalMine && incrementalTheirs) {
    const allowed = Math.max(0.6, 0.3 * incrementalTheirs.median_s);
    add(`incremental seconds (<= max(0.6, 0.3x restic) = ${allowed.toFixed(2)})`, `<= ${allowed.toFixed(2)}`, incrementalMine.median_s, (value) => value <= allowed);
  }
  const stowageSamples = samples.filter((sample) => sample.tool === 'stowage');
  if (stowageSamples.length > 0) {
    add('Stowage peak RSS, every run (MiB)', '<= 256', Math.max(...stowageSamples.map((sample) => sample.peak_rss_mib)), (value) => value <= 256);
    const verified = SCENARIOS.every((scenario) => ours(scenario)?.sha256_ok === true);
    add('Stowage restored bytes identical (1 = yes)', '= 1', verified ? 1 : 0, (value) => value === 1);
  }
  return targets;
}

/** Medians of the child's own timings, for "where does the time go". */
function stowagePhases(samples: readonly Sample[]) {
  const out: Record<string, Record<string, number>> = {};
  for (const scenario of SCENARIOS) {
    const reports = samples.filter((sample) => sample.tool === 'stowage' && sample.scenario === scenario && sample.report !== undefined).map((sample) => sample.report!);
    if (reports.length === 0) continue;
    const pick = (read: (report: ChildReport) => number) => round(median(reports.map(read)));
    const phase = (key: keyof PhaseTimes) => pick((report) => report.phases[key]);
    out[scenario] = {
      process_wall_s: round(median(samples.filter((sample) => sample.tool === 'stowage' && sample.scenario === scenario).map((sample) => sample.wall_s))),
      node_boot_s: pick((report) => report.boot_s),
      load_and_setup_s: pick((report) => report.setup_s),
      engine_s: pick((report) => report.work_s),
      main_thread_busy: pick((report) => report.main_thread_busy),
      volume_read_s: phase('read_s'),
      put_object_s_summed: phase('put_s'),
      put_calls: phase('put_calls'),
      get_object_s_summed: phase('get_s'),
      get_calls: phase('get_calls'),
      target_write_s_summed: phase('write_s'),
      target_write_calls: phase('write_calls'),
      target_fsync_s: phase('flush_s'),
      child_max_rss_mib: pick((report) => report.max_rss_mib),
    };
  }
  return out;
}

/** Stowage alone on a larger volume: the memory bound must not grow with the volume. */
async function runLarge(options: BenchOptions) {
  console.log(`\nlarge volume: ${options.largeSizeMib} MiB, Stowage full backup and restore`);
  const base = await baseVolume(options.workDir, options.largeSizeMib, options.seed);
  const directory = join(options.workDir, 'large');
  await rm(directory, { recursive: true, force: true });
  const tool = new StowageTool();
  await tool.init(directory);
  const full = await measuredStep(() => tool.backup('full', base.path), base.path);
  const stored = await tool.repositoryBytes();
  const restore = await measuredStep(() => tool.restore('full', join(directory, 'restore')));
  const ok = (await sha256File(restore.restoredPath)) === base.sha256;
  await rm(directory, { recursive: true, force: true });
  const entry = (run: ToolRun) => ({
    median_s: round(run.measured.wall_s),
    mib_s: round(options.largeSizeMib / run.measured.wall_s, 1),
    peak_rss_mib: round(run.measured.peak_rss_mib, 1),
  });
  const result = {
    volume_mib: options.largeSizeMib,
    full: { ...entry(full), stored_bytes: stored, sha256_ok: ok },
    restore: { ...entry(restore), stored_bytes: stored, sha256_ok: ok },
    rss_target: { required: '<= 256', pass: full.measured.peak_rss_mib <= 256 && restore.measured.peak_rss_mib <= 256 },
  };
  console.log(`  full ${result.full.median_s} s, rss ${result.full.peak_rss_mib} MiB; restore ${result.restore.median_s} s, rss ${result.restore.peak_rss_mib} MiB; sha256 ${ok ? 'ok' : 'MISMATCH'}`);
  return result;
}

interface SparseEntry {
  median_s: number;
  cpu_s: number;
  /** CPU-seconds per GiB of the volume's data (what stays comparable on a shared machine). */
  cpu_s_per_data_gib: number;
  peak_rss_mib: number;
  sha256_ok: boolean;
  restored_allocated_mib?: number;
}

/**
 * The sparse scenario: the bench volume's data spread over a sparse file (64 GiB by default), each tool's full
 * backup, the same 1% change, incremental and restore, one round (the peers read every byte of it).
 */
async function runSparse(options: BenchOptions, base: BaseVolume, dense: Record<Scenario, Record<string, ToolResult>>) {
  const directory = join(options.workDir, 'sparse');
  await rm(directory, { recursive: true, force: true });
  await mkdir(directory, { recursive: true });
  const densePath = join(directory, 'dense.img');
  await copyVolume(base, densePath);
  const volume = await sparseFromBase(base, join(directory, 'volume.img'), options.sparseSizeMib);
  const sourceAllocated = await allocatedBytes(volume.path);
  const dataGib = volume.dataBytes / 1024 ** 3;
  console.log(`
sparse volume: ${options.sparseSizeMib} MiB file holding ${(volume.dataBytes / 1024 ** 2).toFixed(0)} MiB of data (${(sourceAllocated / 1024 ** 2).toFixed(0)} MiB allocated)`);
  const tools = options.tools.map((name): BenchTool => (name === 'stowage' ? new StowageTool() : name === 'restic' ? new ResticTool({ sparseRestore: true }) : new BorgTool()));
  const results: Record<Scenario, Record<string, SparseEntry>> = { full: {}, incremental: {}, restore: {} };
  const entry = (run: ToolRun, ok: boolean, extra: Partial<SparseEntry> = {}): SparseEntry => {
    const cpu = run.measured.user_s + run.measured.sys_s;
    return { median_s: round(run.measured.wall_s), cpu_s: round(cpu), cpu_s_per_data_gib: round(cpu / dataGib), peak_rss_mib: round(run.measured.peak_rss_mib, 1), sha256_ok: ok, ...extra };
  };
  const say = (scenario: Scenario, tool: string, value: SparseEntry) =>
    console.log(`  sparse ${scenario.padEnd(11)} ${tool.padEnd(7)} ${value.median_s.toFixed(2).padStart(7)} s  cpu ${value.cpu_s.toFixed(2)} s  rss ${value.peak_rss_mib.toFixed(0)} MiB  load ${lastLoad.load1.toFixed(2)}${value.sha256_ok ? '' : ' CONTENT MISMATCH'}`);
  for (const tool of tools) await tool.init(join(directory, tool.name));
  for (const tool of tools) {
    results.full[tool.name] = entry(await measuredStep(() => tool.backup('full', volume.path), volume.path), true);
    say('full', tool.name, results.full[tool.name]!);
  }
  await mutateSparse(volume, densePath, base, `${options.seed}:incremental`);
  // The restores are of the incremental: compare with the changed file (the change wrote into some holes), synced,
  // so its filesystem metadata is on disk like the restored file's.
  const changedAllocated = await allocatedBytes(volume.path);
  for (const tool of tools) {
    results.incremental[tool.name] = entry(await measuredStep(() => tool.backup('incremental', volume.path), volume.path), true);
    say('incremental', tool.name, results.incremental[tool.name]!);
  }
  for (const tool of tools) {
    const target = join(directory, tool.name, 'restore');
    const run = await measuredStep(() => tool.restore('incremental', target));
    const ok = await sameSparseContent(run.restoredPath, volume.path);
    results.restore[tool.name] = entry(run, ok, { restored_allocated_mib: round((await allocatedBytes(run.restoredPath)) / 1024 ** 2, 1) });
    say('restore', tool.name, results.restore[tool.name]!);
    await rm(target, { recursive: true, force: true });
  }
  // Every scenario "ok" only when the restore proved the chain.
  for (const scenario of ['full', 'incremental'] as const) for (const [tool, value] of Object.entries(results[scenario])) value.sha256_ok = results.restore[tool]?.sha256_ok ?? false;
  await rm(directory, { recursive: true, force: true });

  const targets: Target[] = [];
  const add = (name: string, required: string, measured: number | undefined, pass: (value: number) => boolean) => {
    if (measured !== undefined && Number.isFinite(measured)) targets.push({ name, required, measured: round(measured), pass: pass(measured) });
  };
  for (const scenario of SCENARIOS) {
    const ours = results[scenario]['stowage'];
    if (ours === undefined) continue;
    const denseOurs = dense[scenario]['stowage'];
    add(`sparse ${scenario}: Stowage time vs its dense ${base.sizeMib} MiB time`, '<= 1.3x', denseOurs ? ours.median_s / denseOurs.median_s : undefined, (value) => value <= 1.3);
    for (const peer of ['restic', 'borg']) {
      const theirs = results[scenario][peer];
      add(`sparse ${scenario}: Stowage time vs ${peer}`, '<= 0.1x', theirs ? ours.median_s / theirs.median_s : undefined, (value) => value <= 0.1);
    }
  }
  const restored = results.restore['stowage'];
  if (restored !== undefined) {
    add('sparse restore identical (1 = yes)', '= 1', restored.sha256_ok ? 1 : 0, (value) => value === 1);
    add('sparse restore allocated vs changed source allocated', '<= 1.0x', (restored.restored_allocated_mib! * 1024 ** 2) / changedAllocated, (value) => value <= 1.0);
  }
  const volumeSummary = {
    size_mib: options.sparseSizeMib,
    data_mib: round(volume.dataBytes / 1024 ** 2, 1),
    allocated_mib: round(sourceAllocated / 1024 ** 2, 1),
    changed_allocated_mib: round(changedAllocated / 1024 ** 2, 1),
  };
  return { results, targets, volume: volumeSummary };
}

/** Stowage alone on a very large sparse volume (1 TiB by default): memory must not follow the volume's size. */
async function runLargeSparse(options: BenchOptions, base: BaseVolume) {
  const directory = join(options.workDir, 'large-sparse');
  await rm(directory, { recursive: true, force: true });
  await mkdir(directory, { recursive: true });
  const volume = await sparseFromBase(base, join(directory, 'volume.img'), options.largeSparseSizeMib);
  console.log(`
large sparse volume: ${options.largeSparseSizeMib} MiB holding ${(volume.dataBytes / 1024 ** 2).toFixed(0)} MiB, Stowage full backup and restore`);
  const tool = new StowageTool();
  await tool.init(join(directory, 'stowage'));
  const backup = await measuredStep(() => tool.backup('full', volume.path), volume.path);
  const restore = await measuredStep(() => tool.restore('full', join(directory, 'restore')));
  const ok = await sameSparseContent(restore.restoredPath, volume.path);
  await rm(directory, { recursive: true, force: true });
  const entry = (run: ToolRun) => ({ median_s: round(run.measured.wall_s), cpu_s: round(run.measured.user_s + run.measured.sys_s), peak_rss_mib: round(run.measured.peak_rss_mib, 1) });
  const results = { volume_mib: options.largeSparseSizeMib, data_mib: round(volume.dataBytes / 1024 ** 2, 1), backup: entry(backup), restore: { ...entry(restore), sha256_ok: ok } };
  console.log(`  backup ${results.backup.median_s} s, rss ${results.backup.peak_rss_mib} MiB; restore ${results.restore.median_s} s, rss ${results.restore.peak_rss_mib} MiB; content ${ok ? 'identical' : 'MISMATCH'}`);
  const worst = Math.max(results.backup.peak_rss_mib, results.restore.peak_rss_mib);
  const targets: Target[] = [
    { name: `Stowage peak RSS, ${options.largeSparseSizeMib} MiB sparse backup + restore (MiB)`, required: '<= 256', measured: worst, pass: worst <= 256 },
    { name: `Stowage ${options.largeSparseSizeMib} MiB sparse restore identical (1 = yes)`, required: '= 1', measured: ok ? 1 : 0, pass: ok },
  ];
  return { results, targets };
}

/** One CPU-profiled Stowage run per scenario, plus the building blocks' throughput on this machine. */
async function runProfile(options: BenchOptions, base: BaseVolume) {
  console.log('\nprofiling Stowage (one run per scenario, --cpu-prof)');
  const directory = join(options.workDir, 'profile');
  await rm(directory, { recursive: true, force: true });
  await mkdir(directory, { recursive: true });
  const volumePath = join(directory, 'volume.img');
  await copyVolume(base, volumePath);
  const profiles: Record<string, { wall_s: number; main_thread_total_s: number; top: ProfileEntry[]; worker_threads_total_s?: number; workers_top?: ProfileEntry[] }> = {};
  const profiled = async (name: Scenario, step: (tool: StowageTool) => Promise<ToolRun>, tool: StowageTool) => {
    const run = await measuredStep(() => step(tool), volumePath);
    const summary = await summarizeProfile(join(directory, `prof-${name}`));
    profiles[name] = {
      wall_s: round(run.measured.wall_s),
      main_thread_total_s: round(summary.main.total_s),
      top: summary.main.entries,
      ...(summary.workers === undefined ? {} : { worker_threads_total_s: round(summary.workers.total_s), workers_top: summary.workers.entries }),
    };
  };
  const toolFor = (name: Scenario) => new StowageTool({ nodeFlags: ['--cpu-prof', '--cpu-prof-dir', join(directory, `prof-${name}`)] });
  const full = toolFor('full');
  await full.init(join(directory, 'stowage'));
  await profiled('full', (tool) => tool.backup('full', volumePath), full);
  await mutateVolume(volumePath, options.seed);
  const incremental = toolFor('incremental');
  await incremental.init(join(directory, 'stowage'));
  await profiled('incremental', (tool) => tool.backup('incremental', volumePath), incremental);
  const restore = toolFor('restore');
  await restore.init(join(directory, 'stowage'));
  await profiled('restore', (tool) => tool.restore('incremental', join(directory, 'restore')), restore);
  const micro = await runStowageChild({ op: 'micro', volumePath: base.path });
  await rm(directory, { recursive: true, force: true });
  return { cpu_profiles: profiles, building_blocks_mib_s: micro.report.result };
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  process.exitCode = 1;
});
