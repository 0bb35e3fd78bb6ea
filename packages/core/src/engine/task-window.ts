/**
 * Runs async tasks with at most `limit` in flight. `add` waits for a free slot, so a producer loop that calls it
 * never gets ahead of its consumers: the memory held by in-flight tasks stays bounded.
 * The first failure is kept; later `add` calls and `drain` rethrow it.
 */
export class TaskWindow {
  readonly #limit: number;
  readonly #running = new Set<Promise<void>>();
  #failure: { error: unknown } | undefined;

  constructor(limit: number) {
    this.#limit = Math.max(1, limit);
  }

  get failed(): boolean {
    return this.#failure !== undefined;
  }

  async add(task: () => Promise<void>): Promise<void> {
    while (this.#running.size >= this.#limit) await Promise.race(this.#running);
    this.#throwIfFailed();
    const running: Promise<void> = task().then(
      () => {
        this.#running.delete(running);
      },
      (error: unknown) => {
        this.#running.delete(running);
        this.#failure ??= { error };
      },
    );
    this.#running.add(running);
  }

  /** Waits for every task; rethrows the first failure. */
  async drain(): Promise<void> {
    await this.settle();
    this.#throwIfFailed();
  }

  /** Waits for every task, ignoring failures (used before cleaning up after an error). */
  async settle(): Promise<void> {
    while (this.#running.size > 0) await Promise.allSettled([...this.#running]);
  }

  #throwIfFailed(): void {
    if (this.#failure !== undefined) throw this.#failure.error;
  }
}

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
 * Reusable buffers of one size, each owning its ArrayBuffer (so it can be transferred to a worker thread).
 * `take(length)` hands out a view of `length` bytes; `give` returns it. The pool holds at most what was in use
 * at once, which the engine's task window bounds.
 */
export class BufferPool {
  readonly size: number;
  readonly #free: ArrayBuffer[] = [];

  constructor(size: number) {
    this.size = size;
  }

  take(length: number): Buffer {
    if (length > this.size) throw new RangeError(`buffer of ${length} bytes requested from a pool of ${this.size}-byte buffers`);
    return Buffer.from(this.#free.pop() ?? new ArrayBuffer(this.size), 0, length);
  }

  give(buffer: Uint8Array): void {
    if (buffer.buffer instanceof ArrayBuffer && buffer.buffer.byteLength === this.size) this.#free.push(buffer.buffer);
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
