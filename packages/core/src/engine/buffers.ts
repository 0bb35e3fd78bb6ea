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
 * Reusable buffers of one size. `shared` ones (the default) are SharedArrayBuffers: a codec worker reads and
 * writes them in place, and only a view crosses between threads. (Transferred ArrayBuffers would cost a new
 * backing-store registration at every crossing: V8 counts each as fresh external memory and runs a major GC every
 * few chunks, which in the service's large heap was a third of a backup's CPU.) `plain` ones are ordinary
 * ArrayBuffers, for bytes handed to drivers: fetch and other Web APIs refuse views of shared memory.
 * `take(length)` hands out a view of `length` bytes; `give` returns it. The pool holds at most what was in use
 * at once, which the engine's task window bounds.
 */
export class BufferPool {
  readonly size: number;
  readonly #shared: boolean;
  readonly #free: Array<ArrayBuffer | SharedArrayBuffer> = [];

  constructor(size: number, kind: 'shared' | 'plain' = 'shared') {
    this.size = size;
    this.#shared = kind === 'shared';
  }

  take(length: number): Buffer {
    if (length > this.size) throw new RangeError(`buffer of ${length} bytes requested from a pool of ${this.size}-byte buffers`);
    const memory = this.#free.pop() ?? (this.#shared ? new SharedArrayBuffer(this.size) : new ArrayBuffer(this.size));
    return Buffer.from(memory, 0, length);
  }

  give(buffer: Uint8Array): void {
    const memory = buffer.buffer;
    const mine = this.#shared ? memory instanceof SharedArrayBuffer : memory instanceof ArrayBuffer;
    if (mine && memory.byteLength === this.size) this.#free.push(memory);
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
