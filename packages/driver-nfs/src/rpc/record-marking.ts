/**
 * ONC-RPC record marking over TCP (RFC 5531 section 11): each record is sent as one or more fragments, each
 * preceded by a 4-byte header whose top bit marks the last fragment and whose low 31 bits give its length.
 */

const LAST_FRAGMENT = 0x80000000;
/** Largest fragment the header can describe. */
export const MAX_FRAGMENT = 0x7fffffff;

/** A stream that breaks the record-marking rules (a record too large to accept). */
export class RecordMarkingError extends Error {
  override readonly name = 'RecordMarkingError';
}

/**
 * Frames a message given as pieces into fragments of at most `maxFragment` bytes. The pieces are not copied: the
 * result is the headers interleaved with views of the pieces, ready for a vectored write.
 */
export function frameRecord(pieces: readonly Buffer[], length: number, maxFragment = MAX_FRAGMENT): Buffer[] {
  if (maxFragment < 1 || maxFragment > MAX_FRAGMENT) throw new RangeError(`fragment size must be 1..${MAX_FRAGMENT}`);
  const out: Buffer[] = [];
  let left = length;
  let pieceIndex = 0;
  let pieceOffset = 0;
  do {
    const fragment = Math.min(left, maxFragment);
    left -= fragment;
    const header = Buffer.allocUnsafe(4);
    header.writeUInt32BE((fragment | (left === 0 ? LAST_FRAGMENT : 0)) >>> 0, 0);
    out.push(header);
    let need = fragment;
    while (need > 0) {
      const piece = pieces[pieceIndex];
      if (piece === undefined) throw new RangeError(`pieces hold fewer than the ${length} bytes announced`);
      const take = Math.min(need, piece.length - pieceOffset);
      out.push(pieceOffset === 0 && take === piece.length ? piece : piece.subarray(pieceOffset, pieceOffset + take));
      need -= take;
      pieceOffset += take;
      if (pieceOffset === piece.length) {
        pieceIndex += 1;
        pieceOffset = 0;
      }
    }
  } while (left > 0);
  return out;
}

/**
 * Reassembles records from a TCP byte stream: `push` every chunk received, in order; each complete record
 * (all its fragments joined) is handed to `onRecord`. A record larger than `maxRecord` is refused with an error
 * rather than buffered without bound.
 */
export class RecordDecoder {
  readonly #onRecord: (record: Buffer) => void;
  readonly #maxRecord: number;
  /** Received bytes not yet consumed. */
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  /** Fragments of the current record so far. */
  #fragments: Buffer[] = [];
  #recordBytes = 0;

  constructor(onRecord: (record: Buffer) => void, maxRecord: number) {
    this.#onRecord = onRecord;
    this.#maxRecord = maxRecord;
  }

  push(chunk: Buffer): void {
    this.#pending.push(chunk);
    this.#pendingBytes += chunk.length;
    for (;;) {
      if (this.#pendingBytes < 4) return;
      const header = this.#peek(4).readUInt32BE(0);
      const length = header & MAX_FRAGMENT;
      const last = (header & LAST_FRAGMENT) !== 0;
      if (this.#recordBytes + length > this.#maxRecord) {
        throw new RecordMarkingError(`an RPC record of more than ${this.#maxRecord} bytes was announced`);
      }
      if (this.#pendingBytes < 4 + length) return;
      this.#take(4);
      this.#fragments.push(this.#take(length));
      this.#recordBytes += length;
      if (last) {
        const fragments = this.#fragments;
        this.#fragments = [];
        this.#recordBytes = 0;
        this.#onRecord(fragments.length === 1 ? fragments[0]! : Buffer.concat(fragments));
      }
    }
  }

  /** Bytes buffered in an incomplete record (for tests). */
  get bufferedBytes(): number {
    return this.#pendingBytes + this.#recordBytes;
  }

  #peek(bytes: number): Buffer {
    const first = this.#pending[0]!;
    if (first.length >= bytes) return first;
    return Buffer.concat(this.#pending).subarray(0, bytes);
  }

  #take(bytes: number): Buffer {
    const first = this.#pending[0]!;
    if (first.length >= bytes) {
      // A view when it is one chunk's part: the chunk is never reused by the socket.
      const out = first.subarray(0, bytes);
      if (first.length === bytes) this.#pending.shift();
      else this.#pending[0] = first.subarray(bytes);
      this.#pendingBytes -= bytes;
      return out;
    }
    const out = Buffer.allocUnsafe(bytes);
    let filled = 0;
    while (filled < bytes) {
      const piece = this.#pending[0]!;
      const take = Math.min(bytes - filled, piece.length);
      piece.copy(out, filled, 0, take);
      filled += take;
      if (take === piece.length) this.#pending.shift();
      else this.#pending[0] = piece.subarray(take);
    }
    this.#pendingBytes -= bytes;
    return out;
  }
}
