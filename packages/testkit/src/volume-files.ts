import { createCipheriv, createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { dataExtents, type Extent } from '@stowage/core';

const MiB = 1024 * 1024;

/** Fractions of the volume, by kind of content; they should add up to 1. */
export interface VolumeMix {
  readonly random: number;
  readonly zero: number;
  readonly text: number;
}

export interface GenerateVolumeOptions {
  readonly size: number;
  /** Same seed, same bytes: volumes are reproducible across runs and machines. */
  readonly seed: string;
  /** Length of each run of one kind of content (default 4 MiB). */
  readonly runSize?: number;
  /** Default: 40% random, 30% zeros, 30% text-like. */
  readonly mix?: VolumeMix;
}

export const DEFAULT_MIX: VolumeMix = { random: 0.4, zero: 0.3, text: 0.3 };

/**
 * A seeded byte stream: AES-256-CTR over zeros, keyed by the seed. Several GB/s, and statistically random, so
 * "random" runs are incompressible exactly like encrypted or already-compressed data.
 */
export class SeededBytes {
  readonly #cipher;
  readonly #zeros = Buffer.alloc(MiB);

  constructor(seed: string) {
    const key = createHash('sha256').update(`stowage-volume:${seed}`).digest();
    this.#cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  }

  /** Fill `target` with the next bytes of the stream. */
  fill(target: Buffer): Buffer {
    for (let at = 0; at < target.length; at += this.#zeros.length) {
      const length = Math.min(this.#zeros.length, target.length - at);
      this.#cipher.update(this.#zeros.subarray(0, length)).copy(target, at);
    }
    return target;
  }

  /** A uniform integer in [0, bound). */
  below(bound: number): number {
    return this.fill(Buffer.allocUnsafe(6)).readUIntBE(0, 6) % bound;
  }
}

const WORDS = (
  'the of and to in is that for it as was with be by on not he this are or his from at which but have an they ' +
  'volume backup restore chunk block storage driver service container object metadata checksum snapshot ' +
  'incremental compression network request response error status available creating deleting project ' +
  'server client config option value table index record journal commit transaction replica cluster node ' +
  'kernel process thread memory buffer stream socket packet header payload session token user admin'
).split(' ');

/**
 * Text-like bytes: words drawn by the seeded stream, with spaces, newlines and numbers, so they compress the way
 * logs and documents do (about 3-4x with zstd) but never repeat run to run (no accidental deduplication).
 */
function fillText(target: Buffer, bytes: SeededBytes): void {
  const choices = bytes.fill(Buffer.allocUnsafe(Math.ceil(target.length / 3) * 2));
  let at = 0;
  let pick = 0;
  while (at < target.length) {
    const choice = choices.readUInt16LE(pick % (choices.length - 1));
    pick += 2;
    const word = choice % 23 === 0 ? String(choice) : WORDS[choice % WORDS.length]!;
    at += target.write(word, at, 'latin1');
    if (at < target.length) target[at++] = choice % 17 === 0 ? 0x0a : 0x20;
  }
}

export type RunKind = 'random' | 'zero' | 'text';

/** Which kind each run of the volume is: exact proportions, in a seeded order. */
export function planRuns(runs: number, mix: VolumeMix, bytes: SeededBytes): RunKind[] {
  const randomRuns = Math.round(runs * mix.random);
  const zeroRuns = Math.round(runs * mix.zero);
  const kinds: RunKind[] = [];
  for (let i = 0; i < runs; i += 1) kinds.push(i < randomRuns ? 'random' : i < randomRuns + zeroRuns ? 'zero' : 'text');
  for (let i = kinds.length - 1; i > 0; i -= 1) {
    const j = bytes.below(i + 1);
    [kinds[i], kinds[j]] = [kinds[j]!, kinds[i]!];
  }
  return kinds;
}

/**
 * Write a deterministic volume file: runs of random, zero and text-like content. Zero runs are left as holes,
 * so the file is sparse like a real thin volume. Memory: one run buffer.
 */
export async function generateVolumeFile(path: string, options: GenerateVolumeOptions): Promise<{ kinds: RunKind[] }> {
  const runSize = options.runSize ?? 4 * MiB;
  const bytes = new SeededBytes(options.seed);
  const kinds = planRuns(Math.ceil(options.size / runSize), options.mix ?? DEFAULT_MIX, bytes);
  const handle = await open(path, 'w');
  try {
    await handle.truncate(options.size);
    const buffer = Buffer.allocUnsafe(runSize);
    for (let run = 0; run < kinds.length; run += 1) {
      const offset = run * runSize;
      const chunk = buffer.subarray(0, Math.min(runSize, options.size - offset));
      if (kinds[run] === 'zero') continue;
      if (kinds[run] === 'random') bytes.fill(chunk);
      else fillText(chunk, bytes);
      await handle.write(chunk, 0, chunk.length, offset);
    }
  } finally {
    await handle.close();
  }
  return { kinds };
}

export interface MutateVolumeOptions {
  /** Share of the volume to overwrite, e.g. 0.01 for 1%. */
  readonly fraction: number;
  /** Size of each scattered write (default 64 KiB). */
  readonly writeSize?: number;
  /** Writes start on multiples of this (default 4 KiB, like a filesystem). */
  readonly align?: number;
  readonly seed: string;
}

/** Overwrite `fraction` of the volume with random bytes in scattered writes. Returns the offsets written. */
export async function mutateVolumeFile(path: string, options: MutateVolumeOptions): Promise<number[]> {
  const writeSize = options.writeSize ?? 64 * 1024;
  const align = options.align ?? 4096;
  const bytes = new SeededBytes(`mutate:${options.seed}`);
  const handle = await open(path, 'r+');
  try {
    const { size } = await handle.stat();
    const writes = Math.max(1, Math.round((size * options.fraction) / writeSize));
    const slots = Math.floor((size - writeSize) / align) + 1;
    const offsets: number[] = [];
    const data = Buffer.allocUnsafe(writeSize);
    for (let i = 0; i < writes; i += 1) {
      const offset = bytes.below(slots) * align;
      await handle.write(bytes.fill(data), 0, writeSize, offset);
      offsets.push(offset);
    }
    return offsets;
  } finally {
    await handle.close();
  }
}

/** Hex sha256 of a file, streamed. */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const part of createReadStream(path, { highWaterMark: 4 * MiB })) hash.update(part as Buffer);
  return hash.digest('hex');
}

/**
 * True when two files have the same size and bytes, without hashing gigabytes of holes: both files' data extents
 * are read and compared; outside them both are holes, which read as zeros. (Where the filesystem cannot report
 * extents the whole file is compared.)
 */
export async function sameSparseContent(actual: string, expected: string): Promise<boolean> {
  const [a, b] = await Promise.all([open(actual, 'r'), open(expected, 'r')]);
  try {
    const size = (await b.stat()).size;
    if ((await a.stat()).size !== size) return false;
    const whole: Extent[] = [[0, size]];
    const ranges = [...(dataExtents(a.fd, 0, size) ?? whole), ...(dataExtents(b.fd, 0, size) ?? whole)].sort((x, y) => x[0] - y[0]);
    const left = Buffer.alloc(8 * MiB);
    const right = Buffer.alloc(8 * MiB);
    let compared = 0;
    for (const [start, end] of ranges) {
      for (let offset = Math.max(start, compared); offset < end; offset += left.length) {
        const length = Math.min(left.length, end - offset);
        await a.read(left, 0, length, offset);
        await b.read(right, 0, length, offset);
        if (!left.subarray(0, length).equals(right.subarray(0, length))) return false;
      }
      compared = Math.max(compared, end);
    }
    return true;
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
}
