import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { RawTransfer, StartedTarget } from './drivers/driver-target.js';
import { DRIVER_TARGETS } from './drivers/driver-targets.js';
import { runMeasured, runPlain, type Measured } from './measure.js';
import type { BenchOptions } from './options.js';
import { median, round } from './stats.js';
import { runStowageChild } from './tools/stowage-tool.js';
import type { BaseVolume } from './volume.js';

export interface DriverMeasure {
  readonly median_s: number;
  readonly mib_s: number;
  readonly peak_rss_mib: number;
  readonly samples_s: number[];
}

export type DriverComparison =
  | { readonly driver: string; readonly skipped: string }
  | {
      readonly driver: string;
      readonly raw_label: string;
      /** The volume's bytes written the plainest way to the same place. */
      readonly raw: DriverMeasure;
      /** The same bytes through the driver's putObject (no engine): the driver's own cost. */
      readonly driver_put: DriverMeasure;
      /** A full backup by the engine through the driver (hashes, skips zeros, compresses: stores less). */
      readonly engine_full: DriverMeasure;
      readonly driver_put_vs_raw: number;
      readonly engine_full_vs_raw: number;
    };

/** Each available driver: raw transfer, driver putObject and engine full backup, interleaved, same rounds. */
export async function runDriverComparisons(options: BenchOptions, base: BaseVolume): Promise<DriverComparison[]> {
  const comparisons: DriverComparison[] = [];
  console.log('\ndrivers against a raw transfer of the same bytes');
  for (const target of DRIVER_TARGETS) {
    const reason = await target.unavailable();
    if (reason !== undefined) {
      console.log(`  ${target.name}: skipped (${reason})`);
      comparisons.push({ driver: target.name, skipped: reason });
      continue;
    }
    const directory = join(options.workDir, `driver-${target.name}`);
    await rm(directory, { recursive: true, force: true });
    await mkdir(directory, { recursive: true });
    let started: StartedTarget;
    try {
      started = await target.start(directory);
    } catch (error) {
      // The server script stopped what it had started; one backend that cannot run here costs its row, not the run.
      const reason = (error as Error).message;
      console.log(`  ${target.name}: skipped (${reason})`);
      comparisons.push({ driver: target.name, skipped: reason });
      await rm(directory, { recursive: true, force: true });
      continue;
    }
    const runs = { raw: [] as Array<[number, number]>, driver_put: [] as Array<[number, number]>, engine_full: [] as Array<[number, number]> };
    try {
      const total = options.warmup + options.rounds;
      for (let index = 0; index < total; index += 1) {
        const container = started.container(index);
        await runPlain('sync', []);
        const engine = await runStowageChild({
          op: 'backup',
          driver: started.driver,
          volumePath: base.path,
          volumeId: 'bench-volume',
          backupId: `driver-${index}`,
          location: { container, prefix: `engine-${index}/` },
        });
        const chunkSize = Number(engine.report.result['chunkSize']);
        const concurrency = Number(engine.report.result['concurrency']);
        await runPlain('sync', []);
        const put = await runStowageChild({
          op: 'driver-put',
          driver: started.driver,
          volumePath: base.path,
          container,
          prefix: `put-${index}/`,
          chunkSize,
          concurrency,
        });
        await runPlain('sync', []);
        const raw = await runRaw(await started.rawTransfer(base.path, chunkSize, concurrency, index));
        if (index < options.warmup) continue;
        runs.engine_full.push([engine.measured.wall_s, engine.measured.peak_rss_mib]);
        runs.driver_put.push([put.measured.wall_s, put.measured.peak_rss_mib]);
        runs.raw.push([raw.measured.wall_s, raw.measured.peak_rss_mib]);
        console.log(
          `  ${target.name}: raw ${raw.measured.wall_s.toFixed(2)} s, driver put ${put.measured.wall_s.toFixed(2)} s, engine full ${engine.measured.wall_s.toFixed(2)} s`,
        );
      }
    } finally {
      await started.stop();
      await rm(directory, { recursive: true, force: true });
    }
    const measure = (values: Array<[number, number]>): DriverMeasure => {
      const seconds = median(values.map(([wall]) => wall));
      return {
        median_s: round(seconds),
        mib_s: round(base.sizeMib / seconds, 1),
        peak_rss_mib: round(median(values.map(([, rss]) => rss)), 1),
        samples_s: values.map(([wall]) => round(wall)),
      };
    };
    const raw = measure(runs.raw);
    const driverPut = measure(runs.driver_put);
    const engineFull = measure(runs.engine_full);
    comparisons.push({
      driver: target.name,
      raw_label: started.rawLabel,
      raw,
      driver_put: driverPut,
      engine_full: engineFull,
      driver_put_vs_raw: round(raw.median_s / driverPut.median_s),
      engine_full_vs_raw: round(raw.median_s / engineFull.median_s),
    });
  }
  return comparisons;
}

/** A raw transfer in the bench's Node child, or the backend's own client, both under GNU time. */
async function runRaw(transfer: RawTransfer): Promise<{ readonly measured: Measured }> {
  if ('op' in transfer) return runStowageChild(transfer);
  return { measured: await runMeasured(transfer.command, transfer.args) };
}
