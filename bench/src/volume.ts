import { generateVolumeFile, mutateVolumeFile, sha256File } from '@stowage/testkit';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runPlain } from './measure.js';

const MiB = 1024 * 1024;
/** The change between a full and an incremental backup: 1% of the volume in scattered 64 KiB writes. */
export const MUTATION = { fraction: 0.01, writeSize: 64 * 1024 } as const;
export const MIX = { random: 0.4, zero: 0.3, text: 0.3 } as const;
export const RUN_SIZE = 4 * MiB;

export interface BaseVolume {
  readonly path: string;
  readonly sizeMib: number;
  readonly seed: string;
  readonly sha256: string;
}

/**
 * The seeded source volume, generated once per size and seed and kept in the work folder (a sidecar records its
 * sha256, so a stale or truncated file is regenerated rather than trusted).
 */
export async function baseVolume(workDir: string, sizeMib: number, seed: string): Promise<BaseVolume> {
  const folder = join(workDir, 'volumes');
  await mkdir(folder, { recursive: true });
  const path = join(folder, `base-${sizeMib}mib-${seed}.img`);
  const sidecar = `${path}.json`;
  const recorded = await readFile(sidecar, 'utf8')
    .then((text) => JSON.parse(text) as BaseVolume)
    .catch(() => undefined);
  const size = await stat(path).then((info) => info.size, () => -1);
  if (recorded !== undefined && size === sizeMib * MiB) return recorded;
  const started = Date.now();
  await generateVolumeFile(path, { size: sizeMib * MiB, seed, runSize: RUN_SIZE, mix: MIX });
  const volume: BaseVolume = { path, sizeMib, seed, sha256: await sha256File(path) };
  await writeFile(sidecar, JSON.stringify(volume));
  console.log(`generated ${sizeMib} MiB volume (seed ${seed}) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return volume;
}

/** A working copy of the base volume (sparse, like the original), flushed so its writeback does not land in a timing. */
export async function copyVolume(base: BaseVolume, path: string): Promise<void> {
  await runPlain('cp', ['--sparse=always', base.path, path]);
  await runPlain('sync', []);
}

/** Apply the seeded 1% change in place; returns the new sha256. */
export async function mutateVolume(path: string, seed: string): Promise<string> {
  await mutateVolumeFile(path, { ...MUTATION, seed: `${seed}:incremental` });
  await runPlain('sync', []);
  return sha256File(path);
}

export { sha256File };
