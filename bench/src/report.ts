import type { ApiComparison } from './api-bench.js';
import type { DriverComparison } from './driver-bench.js';
import type { Scenario, Target, ToolResult } from './main.js';
import type { ProfileEntry } from './profile-summary.js';

export interface PrintableResults {
  readonly volume_mib: number;
  readonly published_peers: { readonly volume_mib: number } & Partial<Record<Scenario, Record<string, number>>>;
  readonly scenarios: Record<Scenario, Record<string, ToolResult>>;
  readonly targets: readonly Target[];
  readonly stowage_phases: Record<string, Record<string, number>>;
  readonly drivers: readonly DriverComparison[];
  readonly api?: Record<'full' | 'restore', ApiComparison>;
  readonly large?: {
    readonly volume_mib: number;
    readonly full: { median_s: number; mib_s: number; peak_rss_mib: number; sha256_ok: boolean };
    readonly restore: { median_s: number; mib_s: number; peak_rss_mib: number; sha256_ok: boolean };
  };
  readonly sparse?: Record<Scenario, Record<string, { median_s: number; cpu_s: number; cpu_s_per_data_gib: number; peak_rss_mib: number; sha256_ok: boolean; restored_allocated_mib?: number }>>;
  readonly sparse_volume?: { size_mib: number; data_mib: number; allocated_mib: number; changed_allocated_mib?: number };
  readonly large_sparse?: {
    readonly volume_mib: number;
    readonly data_mib: number;
    readonly backup: { median_s: number; cpu_s: number; peak_rss_mib: number };
    readonly restore: { median_s: number; cpu_s: number; peak_rss_mib: number; sha256_ok: boolean };
  };
  readonly profile?: {
    readonly cpu_profiles: Record<
      string,
      { wall_s: number; main_thread_total_s: number; top: ProfileEntry[]; worker_threads_total_s?: number; workers_top?: ProfileEntry[] }
    >;
    readonly building_blocks_mib_s: Record<string, unknown>;
  };
  readonly run: { readonly rounds: number; readonly warmup: number; readonly load_start: number[]; readonly load_end: number[] };
}

const MiB = 1024 * 1024;

/** Plain-text table; numbers right-aligned, the first two columns and `leftAligned` ones left-aligned. */
function table(header: readonly string[], rows: ReadonlyArray<readonly string[]>, leftAligned: readonly string[] = ['vs Stowage', 'raw transfer']): string {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells.map((cell, column) => (column < 2 || leftAligned.includes(header[column]!) ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join('  ');
  return [line(header), widths.map((width) => '-'.repeat(width)).join('  '), ...rows.map(line)].join('\n');
}

/** How Stowage compares with `peer` in a scenario, in the acceptance's terms. */
function versus(scenario: Scenario, ours: ToolResult | undefined, theirs: ToolResult, peer: string): string {
  if (ours === undefined || peer === 'stowage') return '';
  if (scenario === 'incremental') return `Stowage takes ${(ours.median_s / theirs.median_s).toFixed(2)}x its time`;
  return `Stowage ${(theirs.median_s / ours.median_s).toFixed(2)}x its throughput`;
}

export function printReport(results: PrintableResults): void {
  const { run } = results;
  console.log(
    `\nmedians of ${run.rounds} round(s) after ${run.warmup} warm-up, ${results.volume_mib} MiB volume; load ${run.load_start.join(' ')} -> ${run.load_end.join(' ')}`,
  );
  const rows: string[][] = [];
  for (const [scenario, byTool] of Object.entries(results.scenarios) as Array<[Scenario, Record<string, ToolResult>]>) {
    for (const [tool, result] of Object.entries(byTool)) {
      rows.push([
        scenario,
        tool,
        result.median_s.toFixed(2),
        result.mib_s.toFixed(0),
        result.peak_rss_mib.toFixed(0),
        (result.stored_bytes / MiB).toFixed(1),
        `${result.cpu_s.toFixed(2)} (${result.sys_s.toFixed(2)})`,
        result.sha256_ok ? 'ok' : 'NO',
        versus(scenario, byTool['stowage'], result, tool),
        results.volume_mib === results.published_peers.volume_mib ? String(results.published_peers[scenario]?.[tool] ?? '') : '',
      ]);
    }
  }
  console.log(table(['scenario', 'tool', 'median s', 'MiB/s', 'peak RSS MiB', 'stored MiB', 'CPU s (sys)', 'sha256', 'vs Stowage', 'published s'], rows));

  if (results.targets.length > 0) {
    console.log('\nacceptance targets (same run)');
    console.log(
      table(
        ['target', 'required', 'measured', 'result'],
        results.targets.map((target) => [target.name, target.required, target.measured.toFixed(2), target.pass ? 'PASS' : 'FAIL']),
      ),
    );
  }

  const phases = Object.entries(results.stowage_phases);
  if (phases.length > 0) {
    console.log('\nwhere Stowage spends its time (medians; I/O sums overlap when calls run concurrently)');
    const keys = Object.keys(phases[0]![1]);
    console.log(table(['phase', '', ...phases.map(([scenario]) => scenario)], keys.map((key) => [key, '', ...phases.map(([, values]) => String(values[key] ?? ''))])));
  }

  if (results.drivers.length > 0) {
    console.log('\ndrivers against a raw transfer of the same bytes (volume MiB/s; ratio > 1 is faster than raw)');
    const driverRows = results.drivers.map((entry) =>
      'skipped' in entry
        ? [entry.driver, `skipped: ${entry.skipped}`, '', '', '', '', '']
        : [
            entry.driver,
            entry.raw_label,
            entry.raw.mib_s.toFixed(0),
            entry.driver_put.mib_s.toFixed(0),
            entry.engine_full.mib_s.toFixed(0),
            entry.driver_put_vs_raw.toFixed(2),
            entry.engine_full_vs_raw.toFixed(2),
          ],
    );
    console.log(table(['driver', 'raw transfer', 'raw', 'driver put', 'engine full', 'put/raw', 'engine/raw'], driverRows));
  }

  if (results.large !== undefined) {
    const { large } = results;
    console.log(`\n${large.volume_mib} MiB volume, Stowage alone`);
    console.log(
      table(
        ['scenario', '', 'seconds', 'MiB/s', 'peak RSS MiB', 'sha256'],
        (['full', 'restore'] as const).map((name) => [
          name,
          '',
          large[name].median_s.toFixed(2),
          large[name].mib_s.toFixed(0),
          large[name].peak_rss_mib.toFixed(0),
          large[name].sha256_ok ? 'ok' : 'NO',
        ]),
      ),
    );
  }

  if (results.sparse !== undefined && results.sparse_volume !== undefined) {
    const { sparse, sparse_volume: volume } = results;
    console.log(
      `\nsparse volume: ${volume.size_mib} MiB holding ${volume.data_mib} MiB of data (${volume.allocated_mib} MiB allocated; ${volume.changed_allocated_mib ?? '?'} MiB after the 1% change), one round`,
    );
    const rows: string[][] = [];
    for (const [scenario, byTool] of Object.entries(sparse)) {
      const ours = byTool['stowage'];
      for (const [tool, entry] of Object.entries(byTool)) {
        rows.push([
          scenario,
          tool,
          entry.median_s.toFixed(2),
          `${entry.cpu_s.toFixed(2)}`,
          entry.cpu_s_per_data_gib.toFixed(2),
          entry.peak_rss_mib.toFixed(0),
          entry.restored_allocated_mib === undefined ? '' : entry.restored_allocated_mib.toFixed(0),
          entry.sha256_ok ? 'ok' : 'NO',
          ours === undefined || tool === 'stowage' ? '' : `Stowage takes ${(ours.median_s / entry.median_s).toFixed(3)}x its time`,
        ]);
      }
    }
    console.log(table(['scenario', 'tool', 'seconds', 'CPU s', 'CPU s/data GiB', 'peak RSS MiB', 'restored alloc MiB', 'content', 'vs Stowage'], rows));
  }

  if (results.api !== undefined) {
    const { api } = results;
    console.log(`\nthrough the API (create -> available, restore into a new volume -> available) vs engine-only, same rounds`);
    console.log(
      table(
        ['scenario', '', 'API s', 'API CPU s', 'engine s', 'engine CPU s', 'API / engine'],
        (['full', 'restore'] as const).map((name) => [
          name,
          '',
          api[name].api.median_s.toFixed(2),
          api[name].api.cpu_s.toFixed(2),
          api[name].engine.median_s.toFixed(2),
          api[name].engine.cpu_s.toFixed(2),
          `${api[name].ratio.toFixed(2)}x`,
        ]),
      ),
    );
  }

  if (results.large_sparse !== undefined) {
    const large = results.large_sparse;
    console.log(`\n${large.volume_mib} MiB sparse volume holding ${large.data_mib} MiB, Stowage alone`);
    console.log(
      table(
        ['scenario', '', 'seconds', 'CPU s', 'peak RSS MiB'],
        (['backup', 'restore'] as const).map((name) => [name, '', large[name].median_s.toFixed(2), large[name].cpu_s.toFixed(2), large[name].peak_rss_mib.toFixed(0)]),
      ),
    );
  }

  if (results.profile !== undefined) {
    console.log('\nbuilding blocks on this machine (MiB/s):', JSON.stringify(results.profile.building_blocks_mib_s));
    for (const [scenario, profile] of Object.entries(results.profile.cpu_profiles)) {
      const rows = (entries: ProfileEntry[]) => entries.map((entry) => [entry.function, '', entry.self_s.toFixed(3), `${(entry.share * 100).toFixed(1)}%`]);
      console.log(`\nCPU profile, ${scenario}, main thread (${profile.wall_s} s wall, ${profile.main_thread_total_s} s sampled; "(idle)" = waiting)`);
      console.log(table(['function', '', 'self s', 'share'], rows(profile.top)));
      if (profile.workers_top !== undefined) {
        console.log(`\nCPU profile, ${scenario}, worker threads together (${profile.worker_threads_total_s} s sampled)`);
        console.log(table(['function', '', 'self s', 'share'], rows(profile.workers_top)));
      }
    }
  }
}
