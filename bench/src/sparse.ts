/**
 * The sparse scenarios (issue 15): the bench volume's data spread over a much larger sparse file, as a thin
 * volume holds it. `sparse`: 64 GiB, Stowage, restic and borg on the same file (full, the 1% change,
 * incremental, restore). `--large-sparse`: 1 TiB, Stowage alone (time and peak RSS).
 *
 * Verifying a 64 GiB restore by sha256 would hash 64 GiB of zeros; testkit's `sameSparseContent` compares the
 * files' data extents instead, which proves the same thing.
 */
import { open, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { runPlain } from './measure.js';
import { RUN_SIZE, mutateVolume, type BaseVolume } from './volume.js';

const MiB = 1024 * 1024;
const PIECE = 64 * 1024;

export interface SparseVolume {
  readonly path: string;
  readonly sizeMib: number;
  /** Bytes of data (non-zero 64 KiB pieces) the file holds. */
  readonly dataBytes: number;
}

/** Where byte `offset` of the dense volume lives in the sparse one: its 4 MiB run moved to its own stretch. */
function mapper(denseBytes: number, sparseBytes: number): (offset: number) => number {
  const runs = Math.ceil(denseBytes / RUN_SIZE);
  const stride = Math.floor(sparseBytes / runs / MiB) * MiB;
  // A deterministic jitter (whole MiB) so the runs do not all start on the same alignment.
  return (offset) => {
    const run = Math.floor(offset / RUN_SIZE);
    return run * stride + ((run * 37) % Math.max(1, stride / MiB - RUN_SIZE / MiB)) * MiB + (offset % RUN_SIZE);
  };
}

/**
 * Write the pieces of `densePath` that differ from `previousPath` (all non-zero ones when there is none) into
 * the sparse file at their mapped offsets. Zero pieces are never written, so they stay holes.
 */
async function layOut(densePath: string, sparsePath: string, sparseBytes: number, previousPath?: string): Promise<number> {
  const dense = await open(densePath, 'r');
  const previous = previousPath === undefined ? undefined : await open(previousPath, 'r');
  const sparse = await open(sparsePath, 'r+');
  try {
    const denseBytes = (await dense.stat()).size;
    const at = mapper(denseBytes, sparseBytes);
    const piece = Buffer.alloc(PIECE);
    const before = Buffer.alloc(PIECE);
    const zero = Buffer.alloc(PIECE);
    let written = 0;
    for (let offset = 0; offset < denseBytes; offset += PIECE) {
      const { bytesRead } = await dense.read(piece, 0, PIECE, offset);
      const view = piece.subarray(0, bytesRead);
      if (previous !== undefined) {
        const { bytesRead: oldRead } = await previous.read(before, 0, PIECE, offset);
        if (oldRead === bytesRead && view.equals(before.subarray(0, oldRead))) continue;
      } else if (view.equals(zero.subarray(0, bytesRead))) continue;
      await sparse.write(view, 0, bytesRead, at(offset));
      written += bytesRead;
    }
    await sparse.sync();
    return written;
  } finally {
    await Promise.all([dense.close(), previous?.close(), sparse.close()]);
  }
}

/** A fresh sparse file of `sizeMib` holding `base`'s data spread out. */
export async function sparseFromBase(base: BaseVolume, path: string, sizeMib: number): Promise<SparseVolume> {
  await rm(path, { force: true });
  await writeFile(path, '');
  await truncate(path, sizeMib * MiB);
  const dataBytes = await layOut(base.path, path, sizeMib * MiB);
  // Allocated on disk, filesystem metadata included, before anyone measures what it takes.
  await runPlain('sync', []);
  return { path, sizeMib, dataBytes };
}

/**
 * The bench's 1% change, applied to the dense copy `densePath` (the same seeded change as the dense scenario) and
 * carried over to the sparse file at the same mapped offsets.
 */
export async function mutateSparse(volume: SparseVolume, densePath: string, base: BaseVolume, seed: string): Promise<void> {
  await mutateVolume(densePath, seed);
  await layOut(densePath, volume.path, volume.sizeMib * MiB, base.path);
  await runPlain('sync', []);
}

/** Bytes the file really takes on disk. */
export async function allocatedBytes(path: string): Promise<number> {
  return (await stat(path)).blocks * 512;
}
