/**
 * The CPU-heavy half of the engine, as pure functions of their inputs: encoding a chunk (zero detection, block
 * hashing, change detection against the parent, compression, hashing the stored bytes) and decoding one
 * (decompression, verifying every block), into caller-owned buffers. They run on worker threads (`chunk-worker.ts`) so that both cores
 * hash and compress while the main thread only moves bytes.
 */
import { createHash } from 'node:crypto';
import { appendToRuns, DIGEST_BYTES, isAllZero, zeroDigest, type BlockRun } from './blocks.js';
import { compressInto, decompressInto, looksIncompressible, type CompressionAlgorithm, type CompressionSettings } from './compression.js';
import { openInto, sealInto } from './object-crypto.js';

/** Seal (encode) or open (decode) the stored bytes with AES-256-GCM: the data key and the object's associated data. */
export interface CodecSealing {
  readonly key: Uint8Array;
  readonly aad: Uint8Array;
}

export interface EncodeJob {
  /** The chunk's bytes. Changed blocks are compacted to its front in place (no allocation). */
  readonly chunk: Uint8Array;
  /** Where compressed bytes go: a reusable buffer at least as long as the chunk. */
  readonly output: Uint8Array;
  /** Index of the chunk's first block in the volume. */
  readonly firstBlock: number;
  readonly blockSize: number;
  /** The parent's digests for this chunk's blocks (may be shorter, or empty past the parent's end); null for a full backup. */
  readonly parentDigests: Uint8Array | null;
  readonly compression: CompressionSettings;
  /** Hash the stored bytes too (only for drivers that verify uploads end to end). */
  readonly hashStored: boolean;
  /**
   * One byte per block of the chunk, 1 for a block the filesystem reported as a hole: zero without looking (its
   * bytes in `chunk` were never read or cleared). Absent: every block is read.
   */
  readonly holes?: Uint8Array | undefined;
  /**
   * Encrypt the stored bytes after compression (encrypted backups). The chunk and output buffers' memory must then
   * have `ENVELOPE_OVERHEAD` bytes of room past the chunk size: the envelope goes to whichever one is free.
   */
  readonly seal?: CodecSealing | null | undefined;
}

export interface EncodeResult {
  /** sha256 of each block of the chunk, 32 bytes each. */
  readonly digests: Uint8Array;
  /** Changed non-zero blocks, stored in this order. Empty: nothing to store. */
  readonly runs: BlockRun[];
  /** Changed blocks that are all zero: recorded, never stored. */
  readonly zeroRuns: BlockRun[];
  readonly rawLength: number;
  readonly compression: CompressionAlgorithm;
  /** The stored bytes are `output[0, storedLength)` when compressed, else `chunk[0, storedLength)`. */
  readonly storedIn: 'output' | 'chunk';
  readonly storedLength: number;
  /** Hex sha256 of the stored bytes, when `hashStored` was asked for. */
  readonly storedSha256: string | undefined;
}

function sha256Of(data: Uint8Array): Buffer {
  return createHash('sha256').update(data).digest();
}

/** The whole memory behind a view from its start (the pools' buffers are views of `length` bytes of a larger one). */
function wholeMemory(view: Uint8Array): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset, view.buffer.byteLength - view.byteOffset);
}

function asBuffer(data: Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

export function encodeChunk(job: EncodeJob): EncodeResult {
  const chunk = asBuffer(job.chunk);
  const parent = job.parentDigests === null ? null : asBuffer(job.parentDigests);
  const blocks = Math.ceil(chunk.length / job.blockSize);
  const digests = new Uint8Array(blocks * DIGEST_BYTES);
  const runs: BlockRun[] = [];
  const zeroRuns: BlockRun[] = [];
  let rawLength = 0;
  for (let i = 0; i < blocks; i += 1) {
    const start = i * job.blockSize;
    const end = Math.min(start + job.blockSize, chunk.length);
    const block = chunk.subarray(start, end);
    const zero = job.holes?.[i] === 1 || isAllZero(block);
    const digest = zero ? zeroDigest(block.length) : sha256Of(block);
    const at = i * DIGEST_BYTES;
    digests.set(digest, at);
    const unchanged =
      parent !== null && at + DIGEST_BYTES <= parent.length && parent.compare(digest, 0, DIGEST_BYTES, at, at + DIGEST_BYTES) === 0;
    if (unchanged) continue;
    if (zero) {
      appendToRuns(zeroRuns, job.firstBlock + i);
      continue;
    }
    appendToRuns(runs, job.firstBlock + i);
    // Compact changed blocks to the front: the payload is then one slice, whatever changed. Hashing is already
    // done for every earlier block, so overwriting them is safe; a fully changed chunk moves nothing.
    if (rawLength !== start) chunk.copyWithin(rawLength, start, end);
    rawLength += block.length;
  }
  if (runs.length === 0) {
    return { digests, runs, zeroRuns, rawLength: 0, compression: 'none', storedIn: 'chunk', storedLength: 0, storedSha256: undefined };
  }
  const raw = chunk.subarray(0, rawLength);
  const compressedLength = looksIncompressible(raw, job.compression) ? -1 : compressInto(raw, job.output, job.compression);
  const compressed = compressedLength >= 0;
  let stored: Uint8Array = compressed ? job.output.subarray(0, compressedLength) : raw;
  let storedIn: 'output' | 'chunk' = compressed ? 'output' : 'chunk';
  if (job.seal) {
    // Into the buffer not holding the plaintext: the raw chunk is no longer needed once compressed, nor the
    // output buffer when compression was skipped.
    const target = wholeMemory(compressed ? job.chunk : job.output);
    stored = target.subarray(0, sealInto(job.seal.key, job.seal.aad, stored, target));
    storedIn = compressed ? 'chunk' : 'output';
  }
  return {
    digests,
    runs,
    zeroRuns,
    rawLength,
    compression: compressed ? job.compression.algorithm : 'none',
    storedIn,
    storedLength: stored.length,
    storedSha256: job.hashStored ? sha256Of(stored).toString('hex') : undefined,
  };
}

export interface DecodeJob {
  readonly stored: Uint8Array;
  /** Where decompressed bytes go: a reusable buffer of at least `rawLength` bytes. */
  readonly output: Uint8Array;
  readonly compression: CompressionAlgorithm;
  readonly rawLength: number;
  readonly runs: BlockRun[];
  readonly blockSize: number;
  readonly volumeSize: number;
  /** One byte per block of the payload, in payload order: 1 when this object holds the block's newest copy. */
  readonly live: Uint8Array;
  /** Expected sha256 of each payload block, 32 bytes each, in payload order (only live ones are checked). */
  readonly expected: Uint8Array;
  /** Decrypt the stored bytes first (encrypted backups); they are replaced by the plaintext in place. */
  readonly open?: CodecSealing | null | undefined;
}

/** Spans of the raw bytes to write: [start, end, offset in the volume]. */
export type WriteSpan = [start: number, end: number, volumeOffset: number];

export type DecodeResult =
  | { readonly ok: true; readonly rawIn: 'stored' | 'output'; readonly spans: WriteSpan[] }
  | { readonly ok: false; readonly reason: string; readonly authenticationFailed?: true };

/** Filesystem page size: the unit in which a file's holes are allocated. */
const PAGE_BYTES = 4096;

/**
 * Adds `raw[start, start + length)` (at `volumeOffset`, page-aligned) to `spans`, leaving out its all-zero pages:
 * the target is all zero already, so a skipped page stays a hole and the restored file allocates no more than the
 * data (a block that was partly a hole in the source stays partly a hole). Data pages fail the zero check at
 * their first byte, so this costs next to nothing on dense data. Consecutive pieces become one write.
 */
function addNonZeroPages(spans: WriteSpan[], raw: Buffer, start: number, length: number, volumeOffset: number): void {
  for (let page = 0; page < length; page += PAGE_BYTES) {
    const end = Math.min(page + PAGE_BYTES, length);
    // A non-zero first byte settles it without a call (the usual case for data).
    if (raw[start + page] === 0 && isAllZero(raw.subarray(start + page, start + end))) continue;
    const last = spans[spans.length - 1];
    if (last !== undefined && last[1] === start + page && last[2] + (last[1] - last[0]) === volumeOffset + page) last[1] = start + end;
    else spans.push([start + page, start + end, volumeOffset + page]);
  }
}

export function decodeChunk(job: DecodeJob): DecodeResult {
  let stored = job.stored;
  if (job.open) {
    const length = openInto(job.open.key, job.open.aad, stored, stored);
    if (length === undefined) {
      return { ok: false, authenticationFailed: true, reason: 'it fails authentication (AES-256-GCM): altered, or another backup\'s, project\'s or position\'s object' };
    }
    stored = stored.subarray(0, length);
  }
  let raw: Buffer;
  if (job.compression === 'none') raw = asBuffer(stored);
  else {
    let length: number;
    try {
      length = decompressInto(stored, job.output.subarray(0, job.rawLength), job.compression);
    } catch (error) {
      return { ok: false, reason: `${job.compression} data does not decompress (${(error as Error).message})` };
    }
    raw = asBuffer(job.output).subarray(0, length);
  }
  if (raw.length !== job.rawLength) {
    return { ok: false, reason: `${raw.length} bytes after decompression, ${job.rawLength} recorded` };
  }
  const expected = asBuffer(job.expected);
  const spans: WriteSpan[] = [];
  let offset = 0;
  let index = 0;
  for (const [first, count] of job.runs) {
    for (let block = first; block < first + count; block += 1, index += 1) {
      const length = Math.min(job.blockSize, job.volumeSize - block * job.blockSize);
      if (job.live[index] === 1) {
        const at = index * DIGEST_BYTES;
        if (sha256Of(raw.subarray(offset, offset + length)).compare(expected, at, at + DIGEST_BYTES) !== 0) {
          return { ok: false, reason: `block ${block} does not match its sha256` };
        }
        addNonZeroPages(spans, raw, offset, length, block * job.blockSize);
      }
      offset += length;
    }
  }
  return { ok: true, rawIn: job.compression === 'none' ? 'stored' : 'output', spans };
}
