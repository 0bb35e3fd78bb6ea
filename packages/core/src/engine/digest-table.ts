/**
 * The per-block sha256 table, in segments (format v2): memory and storage grow with the data, not the volume.
 * A segment covers `blocksPerSegment` blocks (4 GiB of volume at the defaults: 4 MiB of digests); a segment
 * whose blocks are all zero is not stored at all, so a 1 TiB volume holding 1 GiB costs about one segment.
 */
import { ChecksumMismatchError, InvalidBackupError } from '@stowage/driver-contract';
import { DIGEST_BYTES, sha256, zeroDigest } from './blocks.js';
import { compressInto, decompressInto, type CompressionSettings } from './compression.js';

export const SHA256_SEGMENT_MAGIC = 'stowage.sha256-segment/v2';
/** 4 GiB of volume at 32 KiB blocks (4 MiB of digests): a thin volume with data in every GiB costs 16 segment objects per 64 GiB, not 64. */
export const DEFAULT_BLOCKS_PER_SEGMENT = 128 * 1024;
/** The zero-block digest repeated this many times (128 KiB) is what fills and comparisons work in. */
const PATTERN_DIGESTS = 4096;
/** A segment header's JSON line is ~150 bytes (backup ids are short); more than this is not a segment. */
const MAX_HEADER_BYTES = 4096;

export function digestSegmentName(index: number): string {
  return `sha256-${String(index).padStart(6, '0')}`;
}

export interface DigestSegmentRecord {
  readonly index: number;
  readonly name: string;
  /** Length of the stored object. */
  readonly length: number;
  /** Hex sha256 of the whole stored object. */
  readonly sha256: string;
  /**
   * How the object is compressed; absent: stored as is (every segment before this field existed). A segment of a
   * mostly empty stretch repeats the zero-block digest and shrinks ~50x, so a sparse volume's table costs little
   * to write, read and check; a segment of dense data is random and stays as is.
   */
  readonly compression?: 'zstd' | undefined;
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
    return this.fillZeroDigests(Buffer.allocUnsafe(count * DIGEST_BYTES), first, count);
  }

  /** Writes those digests into `out` (at least `count` digests long) and returns it. */
  fillZeroDigests(out: Buffer, first: number, count: number): Buffer {
    const pattern = this.#zeroPattern();
    for (let done = 0; done < count; ) {
      const take = Math.min(count - done, PATTERN_DIGESTS);
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
      const take = Math.min(full - done, PATTERN_DIGESTS);
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
      this.#pattern = Buffer.allocUnsafe(PATTERN_DIGESTS * DIGEST_BYTES);
      for (let i = 0; i < PATTERN_DIGESTS; i += 1) one.copy(this.#pattern, i * DIGEST_BYTES);
    }
    return this.#pattern;
  }
}

interface OpenSegment {
  /** Blocks of the segment not recorded yet. */
  remaining: number;
  /** The segment as stored uncompressed (header line, then digests), once data arrived; null while all zero. */
  object: Buffer | null;
  /** The buffer `object` lies in, reused once the segment went out compressed. */
  allocation: Buffer | null;
  headerLength: number;
}

/** A segment ready to store: its object bytes, or null when every block is zero (nothing is stored). */
export interface CompletedSegment {
  readonly index: number;
  readonly bytes: Buffer | null;
  readonly compression?: 'zstd' | undefined;
}

const SEGMENT_COMPRESSION: CompressionSettings = { algorithm: 'zstd', level: 1 };

/**
 * Collects a backup's digests as chunks finish (in any order) and hands out each segment once all its blocks are
 * known. Only segments with a chunk in flight are held: a few MiB whatever the volume size.
 */
export class DigestSegmentWriter {
  readonly #open = new Map<number, OpenSegment>();
  /** Buffers of segments that went out compressed (a thin volume's usually do), reused by the next segments. */
  readonly #spare: Buffer[] = [];
  /** Where segments are compressed; one per writer, reused. */
  #scratch: Buffer | undefined;

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
      const state: OpenSegment = this.#open.get(index) ?? { remaining: this.geometry.blocksOfSegment(index), object: null, allocation: null, headerLength: 0 };
      const part = digests?.subarray((block - first) * DIGEST_BYTES, (block - first + take) * DIGEST_BYTES);
      if (part !== undefined && !this.geometry.isZero(part, block)) {
        if (state.object === null) Object.assign(state, this.#startObject(index));
        state.object!.set(part, state.headerLength + (block - segmentFirst) * DIGEST_BYTES);
      }
      state.remaining -= take;
      if (state.remaining === 0) {
        this.#open.delete(index);
        completed.push(state.object === null ? { index, bytes: null } : this.#finish(index, state.object, state.allocation!));
      } else this.#open.set(index, state);
      block += take;
    }
    return completed;
  }

  /** The segment's object with its header written and every digest the zero one, until data arrives. */
  #startObject(index: number): Pick<OpenSegment, 'object' | 'allocation' | 'headerLength'> {
    const firstBlock = index * this.geometry.blocksPerSegment;
    const blocks = this.geometry.blocksOfSegment(index);
    const header: DigestSegmentHeader = {
      format: SHA256_SEGMENT_MAGIC,
      backupId: this.backupId,
      volumeSize: this.geometry.volumeSize,
      blockSize: this.geometry.blockSize,
      firstBlock,
      blocks,
    };
    const line = Buffer.from(`${JSON.stringify(header)}\n`);
    const length = line.length + blocks * DIGEST_BYTES;
    const spare = this.#spare.pop();
    // Never from Node's shared pool (allocUnsafe may use it for small sizes): the whole allocation is reused.
    const allocation = spare !== undefined && spare.length >= length ? spare : Buffer.allocUnsafeSlow(length);
    const object = allocation.subarray(0, length);
    line.copy(object);
    this.geometry.fillZeroDigests(object.subarray(line.length), firstBlock, blocks);
    return { object, allocation, headerLength: line.length };
  }

  #finish(index: number, object: Buffer, allocation: Buffer): CompletedSegment {
    if (this.#scratch === undefined || this.#scratch.length < object.length) this.#scratch = Buffer.allocUnsafe(object.length);
    const length = compressInto(object, this.#scratch, SEGMENT_COMPRESSION);
    // Worth it only when it saves something real (a dense segment's digests are random): then it is stored as is.
    if (length < 0 || length > object.length * 0.9) return { index, bytes: object };
    this.#spare.push(allocation);
    return { index, bytes: Buffer.from(this.#scratch.subarray(0, length)), compression: 'zstd' };
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
  const stored = await context.fetch(key, record.length);
  if (stored.length !== record.length || sha256(stored).toString('hex') !== record.sha256) {
    throw new ChecksumMismatchError(`${where} does not match its recorded length and checksum`, details);
  }
  // Sealed segments are opened first (they were sealed after compression), then decompressed.
  const opened = context.open === undefined ? stored : context.open(record.name, stored);
  let plain = opened;
  if (record.compression !== undefined) {
    // The header is a short line; room for it and the digests is all a well-formed segment needs.
    plain = Buffer.allocUnsafe(blocks * DIGEST_BYTES + MAX_HEADER_BYTES);
    try {
      plain = plain.subarray(0, decompressInto(opened, plain, record.compression));
    } catch (cause) {
      throw new InvalidBackupError(`${where} does not decompress`, { ...details, cause });
    }
  }
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
