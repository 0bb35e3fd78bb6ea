import { createHash } from 'node:crypto';

export const DIGEST_BYTES = 32;

const zeroBuffers = new Map<number, Buffer>();
const zeroDigests = new Map<number, Buffer>();

function zeroBufferOf(length: number): Buffer {
  let zeros = zeroBuffers.get(length);
  if (zeros === undefined) {
    zeros = Buffer.alloc(length);
    zeroBuffers.set(length, zeros);
  }
  return zeros;
}

/** memcmp against a shared zero buffer: several GB/s, far cheaper than hashing. */
export function isAllZero(block: Buffer): boolean {
  return block.equals(zeroBufferOf(block.length));
}

export function sha256(data: Uint8Array): Buffer {
  return createHash('sha256').update(data).digest();
}

/** The digest of an all-zero block of `length` bytes (blocks are 32 KiB except perhaps the volume's last). */
export function zeroDigest(length: number): Buffer {
  let digest = zeroDigests.get(length);
  if (digest === undefined) {
    digest = sha256(zeroBufferOf(length));
    zeroDigests.set(length, digest);
  }
  return digest;
}

/** A run of consecutive block indexes: [first, count]. */
export type BlockRun = [first: number, count: number];

/** Appends blocks `[first, first + count)` to `runs`, extending the last run when it is adjacent. */
export function appendToRuns(runs: BlockRun[], first: number, count = 1): void {
  const last = runs[runs.length - 1];
  if (last !== undefined && last[0] + last[1] === first) last[1] += count;
  else runs.push([first, count]);
}

/** Sorts runs and joins adjacent ones (chunks finish out of order, each with its own runs). */
export function mergeRuns(runs: BlockRun[]): BlockRun[] {
  const merged: BlockRun[] = [];
  for (const [first, count] of [...runs].sort((a, b) => a[0] - b[0])) {
    const last = merged[merged.length - 1];
    if (last !== undefined && last[0] + last[1] === first) last[1] += count;
    else merged.push([first, count]);
  }
  return merged;
}
