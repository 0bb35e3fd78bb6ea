/** Memory the engine reuses, and whole-object reads into it. */

/**
 * Reads an object into `target` (no allocation); returns the bytes read. Throws RangeError when the object is
 * longer than `target`.
 */
export async function readBodyInto(body: AsyncIterable<Uint8Array>, target: Buffer): Promise<number> {
  let filled = 0;
  for await (const part of body) {
    if (filled + part.length > target.length) throw new RangeError(`object is larger than the ${target.length} bytes expected`);
    target.set(part, filled);
    filled += part.length;
  }
  return filled;
}

/**
 * Reusable buffers of one size, each a SharedArrayBuffer: a worker thread reads and writes it in place, and only
 * a view crosses between threads. (Transferred ArrayBuffers would cost a new backing-store registration at every
 * crossing: V8 counts each as fresh external memory and runs a major GC every few chunks, which in the service's
 * large heap was a third of a backup's CPU.) `take(length)` hands out a view of `length` bytes; `give` returns
 * it. The pool holds at most what was in use at once, which the engine's task window bounds.
 */
export class BufferPool {
  readonly size: number;
  readonly #free: SharedArrayBuffer[] = [];

  constructor(size: number) {
    this.size = size;
  }

  take(length: number): Buffer {
    if (length > this.size) throw new RangeError(`buffer of ${length} bytes requested from a pool of ${this.size}-byte buffers`);
    return Buffer.from(this.#free.pop() ?? new SharedArrayBuffer(this.size), 0, length);
  }

  give(buffer: Uint8Array): void {
    if (buffer.buffer instanceof SharedArrayBuffer && buffer.buffer.byteLength === this.size) this.#free.push(buffer.buffer);
  }
}

/** Collects a stream into one Buffer, refusing to grow beyond `maxBytes` (a stored object has a known size). */
export async function readBody(body: AsyncIterable<Uint8Array>, maxBytes: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let total = 0;
  for await (const part of body) {
    total += part.length;
    if (total > maxBytes) throw new RangeError(`object is larger than the ${maxBytes} bytes expected`);
    parts.push(Buffer.isBuffer(part) ? part : Buffer.from(part.buffer, part.byteOffset, part.length));
  }
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts, total);
}
