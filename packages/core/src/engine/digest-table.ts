/**
 * The per-block sha256 table, in segments (format v2): memory and storage grow with the data, not the volume.
 * A segment covers `blocksPerSegment` blocks (1 GiB of volume at the defaults: 1 MiB of digests); a segment
 * whose blocks are all zero is not stored at all, so a 1 TiB volume holding 1 GiB costs about one segment.
 */
import { ChecksumMismatchError, InvalidBackupError } from '@stowage/driver-contract';
import { DIGEST_BYTES, sha256, zeroDigest } from './blocks.js';

export const SHA256_SEGMENT_MAGIC = 'stowage.sha256-segment/v2';
export const DEFAULT_BLOCKS_PER_SEGMENT = 32 * 1024;

export function digestSegmentName(index: number): string {
  return `sha256-${String(index).padStart(6, '0')}`;
}

export interface DigestSegmentRecord {
  readonly index: number;
  readonly name: string;
  readonly length: number;
  /** Hex sha256 of the whole segment object. */
  readonly sha256: string;
}

export interface DigestSegmentHeader {
  readonly format: typeof SHA256_SEGMENT_MAGIC;
  readonly backupId: string;
  readonly volumeSize: number;
  readonly blockSize: number;
  readonly firstBlock: number;
  readonly blocks: number;
}

/** The volume's block geometry, and the digests an all-zero stretch of it has. */
export class BlockGeometry {
  readonly blocks: number;
  readonly #lastLength: number;
  #pattern: Buffer | undefined;

  constructor(
    readonly volumeSize: number,
    readonly blockSize: number,
    readonly blocksPerSegment: number,
  ) {
    this.blocks = Math.ceil(volumeSize / blockSize);
    this.#lastLength = volumeSize - (this.blocks - 1) * blockSize;
  }

  get segments(): number {
    return Math.ceil(this.blocks / this.blocksPerSegment);
  }

  blocksOfSegment(index: number): number {
    return Math.min(this.blocksPerSegment, this.blocks - index * this.blocksPerSegment);
  }

  /** The digests of blocks `[first, first + count)` if they were all zero (the volume's last block may be short). */
  zeroDigests(first: number, count: number): Buffer {
    const out = Buffer.allocUnsafe(count * DIGEST_BYTES);
    const pattern = this.#zeroPattern();
    for (let done = 0; done < count; ) {
      const take = Math.min(count - done, this.blocksPerSegment);
      pattern.copy(out, done * DIGEST_BYTES, 0, take * DIGEST_BYTES);
      done += take;
    }
    this.#fixLast(out, first, count);
    return out;
  }

  /** True when `digests` (of blocks `[first, ...)`) are all the zero-block digest. */
  isZero(digests: Uint8Array, first: number): boolean {
    const count = digests.length / DIGEST_BYTES;
    const view = Buffer.from(digests.buffer, digests.byteOffset, digests.byteLength);
    const full = first + count === this.blocks && this.#lastLength !== this.blockSize ? count - 1 : count;
    const pattern = this.#zeroPattern();
    for (let done = 0; done < full; ) {
      const take = Math.min(full - done, this.blocksPerSegment);
      if (view.compare(pattern, 0, take * DIGEST_BYTES, done * DIGEST_BYTES, (done + take) * DIGEST_BYTES) !== 0) return false;
      done += take;
    }
    return full === count || view.compare(zeroDigest(this.#lastLength), 0, DIGEST_BYTES, full * DIGEST_BYTES, count * DIGEST_BYTES) === 0;
  }

  #fixLast(out: Buffer, first: number, count: number): void {
    if (first + count === this.blocks && this.#lastLength !== this.blockSize) zeroDigest(this.#lastLength).copy(out, (count - 1) * DIGEST_BYTES);
  }

  #zeroPattern(): Buffer {
    if (this.#pattern === undefined) {
      const one = zeroDigest(this.blockSize);
      this.#pattern = Buffer.allocUnsafe(this.blocksPerSegment * DIGEST_BYTES);
      for (let i = 0; i < this.blocksPerSegment; i += 1) one.copy(this.#pattern, i * DIGEST_BYTES);
    }
    return this.#pattern;
  }
}

/** A segment ready to store: its object bytes, or null when every block is zero (nothing is stored). */
export interface CompletedSegment {
  readonly index: number;
  readonly bytes: Buffer | null;
}

/**
 * Collects a backup's digests as chunks finish (in any order) and hands out each segment once all its blocks are
 * known. Only segments with a chunk in flight are held: a few MiB whatever the volume size.
 */
export class DigestSegmentWriter {
  readonly #open = new Map<number, { remaining: number; digests: Buffer | null }>();

  constructor(
    readonly geometry: BlockGeometry,
    readonly backupId: string,
  ) {}

  /** Record the digests of blocks `[first, first + n)`; `null` digests mean all zero. */
  record(first: number, count: number, digests: Uint8Array | null): CompletedSegment[] {
    const { blocksPerSegment } = this.geometry;
    const completed: CompletedSegment[] = [];
    for (let block = first; block < first + count; ) {
      const index = Math.floor(block / blocksPerSegment);
      const segmentFirst = index * blocksPerSegment;
      const take = Math.min(first + count, segmentFirst + blocksPerSegment) - block;
      const state = this.#open.get(index) ?? { remaining: this.geometry.blocksOfSegment(index), digests: null };
      const part = digests?.subarray((block - first) * DIGEST_BYTES, (block - first + take) * DIGEST_BYTES);
      if (part !== undefined && !this.geometry.isZero(part, block)) {
        state.digests ??= this.geometry.zeroDigests(segmentFirst, this.geometry.blocksOfSegment(index));
        state.digests.set(part, (block - segmentFirst) * DIGEST_BYTES);
      }
      state.remaining -= take;
      if (state.remaining === 0) {
        this.#open.delete(index);
        completed.push({ index, bytes: state.digests && this.#serialize(index, state.digests) });
      } else this.#open.set(index, state);
      block += take;
    }
    return completed;
  }

  #serialize(index: number, digests: Buffer): Buffer {
    const header: DigestSegmentHeader = {
      format: SHA256_SEGMENT_MAGIC,
      backupId: this.backupId,
      volumeSize: this.geometry.volumeSize,
      blockSize: this.geometry.blockSize,
      firstBlock: index * this.geometry.blocksPerSegment,
      blocks: digests.length / DIGEST_BYTES,
    };
    return Buffer.concat([Buffer.from(`${JSON.stringify(header)}\n`), digests]);
  }
}

/** Reads a backup's digests by block range, whatever the format that stored them. */
export interface DigestSource {
  digestsOf(first: number, count: number): Promise<Buffer>;
  /** True when blocks `[first, first + count)` are recorded with the zero-block digest. */
  allZero(first: number, count: number): Promise<boolean>;
}

/** Format v1: one object holding the whole table, already loaded and checked. */
export function wholeTableSource(digests: Buffer, geometry: BlockGeometry): DigestSource {
  return {
    async digestsOf(first, count) {
      if (first + count > geometry.blocks) throw new RangeError(`blocks ${first}+${count} past the table's ${geometry.blocks}`);
      return digests.subarray(first * DIGEST_BYTES, (first + count) * DIGEST_BYTES);
    },
    async allZero(first, count) {
      return geometry.isZero(await this.digestsOf(first, count), first);
    },
  };
}

export interface SegmentFetchContext {
  readonly backupId: string;
  readonly backendName: string;
  readonly container: string;
  readonly prefix: string;
  /** Fetch an object of at most `maxBytes`. */
  fetch(key: string, maxBytes: number): Promise<Buffer>;
  /** Encrypted backups: the segment object's plaintext (throws when it fails authentication). */
  readonly open?: ((name: string, bytes: Buffer) => Buffer) | undefined;
}

/**
 * Format v2: segments fetched when first needed, each checked against its recorded sha256 and header, a few
 * kept (reads move forward through the volume); a segment not recorded is all zero.
 */
export function segmentedSource(geometry: BlockGeometry, records: readonly DigestSegmentRecord[], context: SegmentFetchContext): DigestSource {
  const byIndex = new Map(records.map((record) => [record.index, record]));
  const cache = new Map<number, Promise<Buffer>>();
  const KEEP = 3;
  const load = (index: number): Promise<Buffer> => {
    const cached = cache.get(index);
    if (cached !== undefined) {
      cache.delete(index);
      cache.set(index, cached);
      return cached;
    }
    const loading = loadSegment(geometry, byIndex.get(index), index, context);
    loading.catch(() => cache.delete(index));
    cache.set(index, loading);
    while (cache.size > KEEP) cache.delete(cache.keys().next().value!);
    return loading;
  };
  /** Calls `visit` with each segment's part of `[first, first + count)`: its index, first block and length. */
  const eachPart = async (first: number, count: number, visit: (index: number, block: number, take: number) => Promise<boolean | void>) => {
    if (first < 0 || first + count > geometry.blocks) throw new RangeError(`blocks ${first}+${count} outside the table's ${geometry.blocks}`);
    for (let block = first; block < first + count; ) {
      const index = Math.floor(block / geometry.blocksPerSegment);
      const take = Math.min(first + count, index * geometry.blocksPerSegment + geometry.blocksOfSegment(index)) - block;
      if ((await visit(index, block, take)) === false) return false;
      block += take;
    }
    return true;
  };
  const part = async (index: number, block: number, take: number) => {
    const offset = block - index * geometry.blocksPerSegment;
    return (await load(index)).subarray(offset * DIGEST_BYTES, (offset + take) * DIGEST_BYTES);
  };
  return {
    async digestsOf(first, count) {
      const out = Buffer.allocUnsafe(count * DIGEST_BYTES);
      await eachPart(first, count, async (index, block, take) => {
        (await part(index, block, take)).copy(out, (block - first) * DIGEST_BYTES);
      });
      return out;
    },
    allZero: (first, count) =>
      // A segment that was never stored is all zero by definition: nothing to fetch or compare.
      eachPart(first, count, async (index, block, take) => !byIndex.has(index) || geometry.isZero(await part(index, block, take), block)),
  };
}

async function loadSegment(geometry: BlockGeometry, record: DigestSegmentRecord | undefined, index: number, context: SegmentFetchContext): Promise<Buffer> {
  const first = index * geometry.blocksPerSegment;
  const blocks = geometry.blocksOfSegment(index);
  if (record === undefined) return geometry.zeroDigests(first, blocks);
  const key = context.prefix + record.name;
  const where = `digest segment ${context.container}/${key} on backend ${context.backendName}`;
  const details = { backend: context.backendName, container: context.container, object: key };
  const bytes = await context.fetch(key, record.length);
  if (bytes.length !== record.length || sha256(bytes).toString('hex') !== record.sha256) {
    throw new ChecksumMismatchError(`${where} does not match its recorded length and checksum`, details);
  }
  const plain = context.open === undefined ? bytes : context.open(record.name, bytes);
  const newline = plain.indexOf(0x0a);
  let header: Partial<DigestSegmentHeader> | undefined;
  try {
    header = newline < 0 ? undefined : (JSON.parse(plain.subarray(0, newline).toString('utf8')) as DigestSegmentHeader);
  } catch {
    header = undefined;
  }
  const digests = plain.subarray(newline + 1);
  if (
    header?.format !== SHA256_SEGMENT_MAGIC ||
    header.backupId !== context.backupId ||
    header.volumeSize !== geometry.volumeSize ||
    header.blockSize !== geometry.blockSize ||
    header.firstBlock !== first ||
    header.blocks !== blocks ||
    digests.length !== blocks * DIGEST_BYTES
  ) {
    throw new InvalidBackupError(`${where} does not describe blocks ${first}-${first + blocks - 1} of backup ${context.backupId}`, details);
  }
  return digests;
}
