/**
 * XDR (RFC 4506) encoding and decoding, the subset ONC-RPC, MOUNT and NFSv3 use. Opaque data stays bytes end to end:
 * file handles and file contents are never turned into strings (the npm `nfs` package's 'ascii' decoding cleared
 * bit 7 of ganesha's handles, which then came back STALE).
 */

/** Thrown when a reply is shorter than its own fields say, or a field is out of range. */
export class XdrError extends Error {
  override readonly name = 'XdrError';
}

const padding = (length: number): number => (4 - (length % 4)) % 4;
const ZEROS = Buffer.alloc(4);

/**
 * Builds an XDR message as a list of buffers: small fields go into a growing head buffer, large opaque data
 * (WRITE payloads) is referenced, not copied.
 */
export class XdrWriter {
  readonly #pieces: Buffer[] = [];
  #head: Buffer = Buffer.allocUnsafe(256);
  #used = 0;

  /** A writer holding an already finished message (sent again on a retry). */
  static of(message: { readonly pieces: readonly Buffer[] }): XdrWriter {
    const writer = new XdrWriter();
    writer.#pieces.push(...message.pieces);
    return writer;
  }

  #reserve(bytes: number): void {
    if (this.#used + bytes <= this.#head.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.#head.length * 2, this.#used + bytes));
    this.#head.copy(grown, 0, 0, this.#used);
    this.#head = grown;
  }

  uint32(value: number): this {
    if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) throw new XdrError(`uint32 out of range: ${value}`);
    this.#reserve(4);
    this.#head.writeUInt32BE(value, this.#used);
    this.#used += 4;
    return this;
  }

  int32(value: number): this {
    this.#reserve(4);
    this.#head.writeInt32BE(value, this.#used);
    this.#used += 4;
    return this;
  }

  bool(value: boolean): this {
    return this.uint32(value ? 1 : 0);
  }

  /** An unsigned hyper from a safe integer (file offsets, sizes). */
  uint64(value: number | bigint): this {
    const big = BigInt(value);
    if (big < 0n || big > 0xffffffffffffffffn) throw new XdrError(`uint64 out of range: ${value}`);
    this.#reserve(8);
    this.#head.writeBigUInt64BE(big, this.#used);
    this.#used += 8;
    return this;
  }

  /** Fixed-length opaque data (e.g. an 8-byte verifier): no length prefix, padded to 4 bytes. */
  fixedOpaque(data: Uint8Array, length: number): this {
    if (data.length !== length) throw new XdrError(`fixed opaque must be ${length} bytes, got ${data.length}`);
    return this.#bytes(data);
  }

  /** Variable-length opaque data: length, bytes, padding. Data of 1 KiB or more is referenced, not copied. */
  opaque(data: Uint8Array): this {
    this.uint32(data.length);
    return this.#bytes(data);
  }

  string(value: string): this {
    return this.opaque(Buffer.from(value, 'utf8'));
  }

  #bytes(data: Uint8Array): this {
    const pad = padding(data.length);
    if (data.length >= 1024) {
      this.#flushHead();
      this.#pieces.push(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
      if (pad > 0) this.#pieces.push(ZEROS.subarray(0, pad));
      return this;
    }
    this.#reserve(data.length + pad);
    this.#head.set(data, this.#used);
    this.#head.fill(0, this.#used + data.length, this.#used + data.length + pad);
    this.#used += data.length + pad;
    return this;
  }

  #flushHead(): void {
    if (this.#used === 0) return;
    this.#pieces.push(this.#head.subarray(0, this.#used));
    this.#head = Buffer.allocUnsafe(256);
    this.#used = 0;
  }

  /** The message as buffers to send in order, and its total length. */
  finish(): { pieces: Buffer[]; length: number } {
    this.#flushHead();
    const pieces = this.#pieces.splice(0);
    return { pieces, length: pieces.reduce((sum, piece) => sum + piece.length, 0) };
  }

  /** The message as one buffer (for tests and small messages). */
  toBuffer(): Buffer {
    return Buffer.concat(this.finish().pieces);
  }
}

/** Reads an XDR message. Opaque results are views into the message buffer, which is never reused. */
export class XdrReader {
  #offset = 0;
  constructor(readonly buffer: Buffer) {}

  get remaining(): number {
    return this.buffer.length - this.#offset;
  }

  #need(bytes: number, what: string): void {
    if (this.#offset + bytes > this.buffer.length) {
      throw new XdrError(`truncated XDR: ${what} needs ${bytes} bytes at offset ${this.#offset}, ${this.remaining} left`);
    }
  }

  uint32(): number {
    this.#need(4, 'uint32');
    const value = this.buffer.readUInt32BE(this.#offset);
    this.#offset += 4;
    return value;
  }

  int32(): number {
    this.#need(4, 'int32');
    const value = this.buffer.readInt32BE(this.#offset);
    this.#offset += 4;
    return value;
  }

  bool(): boolean {
    const value = this.uint32();
    if (value > 1) throw new XdrError(`bool must be 0 or 1, got ${value}`);
    return value === 1;
  }

  /** An unsigned hyper as a number; sizes beyond 2^53 are not expected from a backup store and are refused. */
  uint64(): number {
    this.#need(8, 'uint64');
    const value = this.buffer.readBigUInt64BE(this.#offset);
    this.#offset += 8;
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new XdrError(`uint64 ${value} exceeds the safe integer range`);
    return Number(value);
  }

  /** An unsigned hyper kept exact (cookies, file ids). */
  uint64Big(): bigint {
    this.#need(8, 'uint64');
    const value = this.buffer.readBigUInt64BE(this.#offset);
    this.#offset += 8;
    return value;
  }

  fixedOpaque(length: number): Buffer {
    this.#need(length + padding(length), `opaque[${length}]`);
    const data = this.buffer.subarray(this.#offset, this.#offset + length);
    this.#offset += length + padding(length);
    return data;
  }

  /** Variable-length opaque, at most `max` bytes (a protocol's declared bound). */
  opaque(max = 0xffffffff): Buffer {
    const length = this.uint32();
    if (length > max) throw new XdrError(`opaque of ${length} bytes exceeds its bound of ${max}`);
    return this.fixedOpaque(length);
  }

  string(max = 0xffffffff): string {
    return this.opaque(max).toString('utf8');
  }

  skip(bytes: number): void {
    this.#need(bytes, 'skip');
    this.#offset += bytes;
  }
}
