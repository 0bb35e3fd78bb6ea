import { readFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';

/** How contended the machine is right now: 1-minute load and, where the kernel has PSI, CPU pressure. */
export interface LoadSnapshot {
  readonly load1: number;
  /** Share of the last 10 s in which some runnable task waited for a CPU (0-100), or undefined without PSI. */
  readonly cpu_pressure_avg10: number | undefined;
  /** Same for I/O (tasks stalled on the disk): fsync-heavy runs slow down when other work writes. */
  readonly io_pressure_avg10: number | undefined;
}

async function pressure(resource: 'cpu' | 'io'): Promise<number | undefined> {
  const value = await readFile(`/proc/pressure/${resource}`, 'utf8').then(
    (text) => Number(/^some avg10=([\d.]+)/m.exec(text)?.[1]),
    () => Number.NaN,
  );
  return Number.isFinite(value) ? value : undefined;
}

export async function loadSnapshot(): Promise<LoadSnapshot> {
  return { load1: loadavg()[0] ?? Number.NaN, cpu_pressure_avg10: await pressure('cpu'), io_pressure_avg10: await pressure('io') };
}

/**
 * Wait (at most `maxSeconds`) until other work on the machine has calmed down: CPU and I/O pressure under 10%, or
 * load under 1 without PSI. Returns the snapshot it stopped on; a benchmark on a shared machine notes it either way.
 */
export async function waitForQuiet(maxSeconds: number): Promise<LoadSnapshot> {
  const deadline = Date.now() + maxSeconds * 1000;
  for (;;) {
    const snapshot = await loadSnapshot();
    const quiet =
      snapshot.cpu_pressure_avg10 !== undefined
        ? snapshot.cpu_pressure_avg10 < 10 && (snapshot.io_pressure_avg10 ?? 0) < 10
        : snapshot.load1 < 1;
    if (quiet || Date.now() >= deadline) return snapshot;
    await sleep(5000);
  }
}
