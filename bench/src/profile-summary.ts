import { readFile, readdir } from 'node:fs/promises';
import { basename, join } from 'node:path';

interface CpuProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
}

interface CpuProfile {
  readonly nodes: readonly CpuProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export interface ProfileEntry {
  readonly function: string;
  readonly self_s: number;
  readonly share: number;
}

export interface ThreadProfile {
  /** Sampled time of the thread (its life span, idle included). */
  readonly total_s: number;
  readonly entries: ProfileEntry[];
}

/**
 * Self time per function, from the `.cpuprofile` files Node wrote with `--cpu-prof`: one for the main thread
 * (thread id 0 in the file name) and one per worker thread, merged here. Native work on the libuv pool (fs calls)
 * is not in any of them: it shows up as "(idle)".
 */
export async function summarizeProfile(directory: string, top = 12): Promise<{ main: ThreadProfile; workers: ThreadProfile | undefined }> {
  const files = (await readdir(directory)).filter((name) => name.endsWith('.cpuprofile'));
  // CPU.<date>.<time>.<pid>.<thread id>.<sequence>.cpuprofile
  const threadOf = (name: string) => Number(name.split('.').at(-3));
  const mainFiles = files.filter((name) => threadOf(name) === 0);
  const workerFiles = files.filter((name) => threadOf(name) !== 0);
  if (mainFiles.length === 0) throw new Error(`no main-thread .cpuprofile in ${directory}`);
  const load = async (names: string[]) => Promise.all(names.map(async (name) => JSON.parse(await readFile(join(directory, name), 'utf8')) as CpuProfile));
  return {
    main: selfTimes(await load(mainFiles), top),
    workers: workerFiles.length === 0 ? undefined : selfTimes(await load(workerFiles), top),
  };
}

function selfTimes(profiles: readonly CpuProfile[], top: number): ThreadProfile {
  const selfMicros = new Map<string, number>();
  let total = 0;
  for (const profile of profiles) {
    const nameOf = new Map<number, string>();
    for (const node of profile.nodes) {
      const { functionName, url, lineNumber } = node.callFrame;
      const where = url === '' ? '' : ` ${basename(url)}:${lineNumber + 1}`;
      nameOf.set(node.id, `${functionName === '' ? '(anonymous)' : functionName}${where}`);
    }
    profile.samples.forEach((id, index) => {
      const delta = profile.timeDeltas[index] ?? 0;
      const name = nameOf.get(id) ?? '(unknown)';
      selfMicros.set(name, (selfMicros.get(name) ?? 0) + delta);
      total += delta;
    });
  }
  const entries = [...selfMicros.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([name, micros]) => ({ function: name, self_s: micros / 1e6, share: total === 0 ? 0 : micros / total }));
  return { total_s: total / 1e6, entries };
}
