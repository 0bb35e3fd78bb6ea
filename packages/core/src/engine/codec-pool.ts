import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { decodeChunk, encodeChunk, type DecodeJob, type DecodeResult, type EncodeJob, type EncodeResult } from './chunk-codec.js';

export type CodecRequest = { id: number; kind: 'encode'; job: EncodeJob } | { id: number; kind: 'decode'; job: DecodeJob };
/** `buffers` returns the job's buffers to the caller: [chunk, output] for encode, [stored, output] for decode. */
export type CodecResponse =
  | { id: number; kind: 'encode'; result: EncodeResult; buffers: [Uint8Array, Uint8Array] }
  | { id: number; kind: 'decode'; result: DecodeResult; buffers: [Uint8Array, Uint8Array] }
  | { id: number; kind: 'error'; message: string };

/** Runs one request on this thread (a worker's, or the caller's when no worker can start). */
export function runCodecRequest(request: CodecRequest): CodecResponse {
  try {
    if (request.kind === 'encode') {
      const { job } = request;
      return { id: request.id, kind: 'encode', result: encodeChunk(job), buffers: [job.chunk, job.output] };
    }
    const { job } = request;
    return { id: request.id, kind: 'decode', result: decodeChunk(job), buffers: [job.stored, job.output] };
  } catch (error) {
    return { id: request.id, kind: 'error', message: (error as Error).stack ?? String(error) };
  }
}

/**
 * The ArrayBuffers behind `views`, to move between threads without a copy. The engine's pooled buffers are
 * shared (nothing to transfer); a large ArrayBuffer of its own (an object read by stream) is moved; small ones
 * (possibly Node's shared 8 KiB pool) are never transferred, only copied.
 */
export function transferables(views: readonly Uint8Array[]): ArrayBuffer[] {
  const out = new Set<ArrayBuffer>();
  for (const { buffer } of views) {
    if (buffer instanceof ArrayBuffer && buffer.byteLength >= 64 * 1024) out.add(buffer);
  }
  return [...out];
}

interface Pending {
  resolve(response: CodecResponse): void;
  reject(error: Error): void;
}

interface PoolWorker {
  readonly worker: Worker;
  readonly pending: Map<number, Pending>;
  /** True once the worker has answered: a worker that dies before that could not start at all. */
  answered: boolean;
}

export interface EncodedChunk {
  readonly result: EncodeResult;
  /** The job's buffers, returned (the originals are detached once sent to a worker: use these). */
  readonly chunk: Buffer;
  readonly output: Buffer;
  /** The bytes to store: a view of `chunk` or `output`. */
  readonly stored: Buffer;
}

export interface DecodedChunk {
  readonly result: DecodeResult;
  readonly stored: Buffer;
  readonly output: Buffer;
  /** The verified raw bytes (valid when `result.ok`): a view of `stored` or `output`. */
  readonly raw: Buffer;
}

/**
 * Worker threads, one per core, that encode and decode chunks, so hashing and compression use every core while
 * the main thread moves bytes. Buffers are shared with the worker (or transferred), never copied. Idle workers
 * do not keep the process alive. When workers cannot start (e.g. running from TypeScript sources), jobs run on
 * the calling thread: slower, same results.
 */
export class CodecPool {
  readonly size: number;
  readonly #workers: PoolWorker[] = [];
  #nextId = 1;
  #inline = false;

  constructor(size = availableParallelism()) {
    this.size = Math.max(1, size);
  }

  async encode(job: EncodeJob): Promise<EncodedChunk> {
    const response = await this.#run({ id: this.#nextId++, kind: 'encode', job });
    if (response.kind !== 'encode') throw new Error('codec worker answered an encode job with something else');
    const [chunk, output] = response.buffers.map(toBuffer) as [Buffer, Buffer];
    const { storedIn, storedLength } = response.result;
    const holder = storedIn === 'output' ? output : chunk;
    // An encrypted chunk's envelope may run past the view's length into its buffer's spare room.
    const stored = storedLength <= holder.length ? holder.subarray(0, storedLength) : Buffer.from(holder.buffer, holder.byteOffset, storedLength);
    return { result: response.result, chunk, output, stored };
  }

  async decode(job: DecodeJob): Promise<DecodedChunk> {
    const response = await this.#run({ id: this.#nextId++, kind: 'decode', job });
    if (response.kind !== 'decode') throw new Error('codec worker answered a decode job with something else');
    const [stored, output] = response.buffers.map(toBuffer) as [Buffer, Buffer];
    const raw = response.result.ok ? (response.result.rawIn === 'output' ? output : stored).subarray(0, job.rawLength) : output.subarray(0, 0);
    return { result: response.result, stored, output, raw };
  }

  async #run(request: CodecRequest): Promise<CodecResponse> {
    const target = this.#inline ? undefined : this.#pick();
    const response =
      target === undefined
        ? runCodecRequest(request)
        : await new Promise<CodecResponse>((resolve, reject) => {
            target.pending.set(request.id, { resolve, reject });
            target.worker.ref();
            const job = request.job;
            target.worker.postMessage(request, transferables('chunk' in job ? [job.chunk, job.output] : [job.stored, job.output]));
          });
    if (response.kind === 'error') throw new Error(`codec worker failed: ${response.message}`);
    return response;
  }

  /** An idle worker, starting workers up to `size`; else the least busy one. */
  #pick(): PoolWorker | undefined {
    const idle = this.#workers.find((entry) => entry.pending.size === 0);
    if (idle !== undefined) return idle;
    if (this.#workers.length < this.size) {
      const started = this.#start();
      if (started !== undefined) return started;
    }
    if (this.#workers.length === 0) {
      this.#inline = true;
      return undefined;
    }
    return this.#workers.reduce((best, entry) => (entry.pending.size < best.pending.size ? entry : best));
  }

  #start(): PoolWorker | undefined {
    const script = new URL('./chunk-worker.js', import.meta.url);
    if (!existsSync(fileURLToPath(script))) return undefined;
    // Flags meant for the main script (e.g. --input-type) must not reach the worker.
    const worker = new Worker(script, { execArgv: process.execArgv.filter((flag) => !flag.startsWith('--input-type')) });
    const entry: PoolWorker = { worker, pending: new Map(), answered: false };
    worker.unref();
    worker.on('message', (response: CodecResponse) => {
      entry.answered = true;
      const pending = entry.pending.get(response.id);
      entry.pending.delete(response.id);
      if (entry.pending.size === 0) worker.unref();
      pending?.resolve(response);
    });
    const fail = (error: Error) => {
      const index = this.#workers.indexOf(entry);
      if (index >= 0) this.#workers.splice(index, 1);
      // A worker that never answered could not start here: later jobs run on the calling thread. Jobs already
      // sent are lost with it (their buffers moved to the worker), so they fail and their operation fails cleanly.
      if (!entry.answered) this.#inline = true;
      for (const pending of entry.pending.values()) pending.reject(error);
      entry.pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`codec worker exited with code ${code}`)));
    this.#workers.push(entry);
    return entry;
  }
}

function toBuffer(view: Uint8Array): Buffer {
  return Buffer.isBuffer(view) ? view : Buffer.from(view.buffer, view.byteOffset, view.byteLength);
}

let shared: CodecPool | undefined;

/** One pool per process, shared by every engine. */
export function sharedCodecPool(): CodecPool {
  shared ??= new CodecPool();
  return shared;
}
