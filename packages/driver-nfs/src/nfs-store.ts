import {
  AbortedError,
  StorageUnavailableError,
  throwIfAborted,
  type CallOptions,
  type DriverCapabilities,
  type DriverContext,
  type DriverLogger,
  type ObjectBody,
  type PutBody,
  type PutObjectOptions,
  type StorageDriver,
  type StowageError,
} from '@stowage/driver-contract';
import { PROBE_PREFIX, countedBody, missingContainerError, objectProbe, runSetupProbe, setupStepError } from '@stowage/driver-utils';
import { randomBytes } from 'node:crypto';
import type { NfsOptions } from './nfs-config.js';
import { isNfsStatus, toStowageError, type NfsCallContext } from './nfs-errors.js';
import { Nfs3Client } from './nfs3/nfs3-client.js';
import { FileType, StableHow, type DirEntry } from './nfs3/nfs3-protocol.js';

const TEMP_MARK = '.stowage-tmp-';
/** Uncommitted bytes of one object kept for a re-send; a COMMIT is made whenever this many are outstanding. */
const COMMIT_WINDOW = 64 * 1024 * 1024;
/** COMMIT rounds before a server that keeps changing its write verifier (rebooting) fails the put. */
const COMMIT_ROUNDS = 3;
/** Read-ahead of the temp-file clean-up after a failed put: short, the server may be gone. */
const CLEANUP_TIMEOUT_MS = 5000;
const PROBE_FOLDER = PROBE_PREFIX.replace(/\/$/, '');

interface Session {
  readonly base: Buffer;
  readonly ioSize: number;
}

/**
 * Objects as files on an NFSv3 export: `<export>/<base_dir>/<container>/<key>`, a key's `/`-separated segments
 * being folders. Writes go to a temp file in the object's folder (several UNSTABLE WRITEs outstanding, a COMMIT
 * whose verifier is checked), then RENAME into place: an object is visible only complete.
 */
export class NfsStore implements StorageDriver {
  readonly driverName = 'nfs';
  readonly capabilities: DriverCapabilities;
  readonly defaultContainer: string;
  readonly #options: NfsOptions;
  readonly #backend: string;
  readonly #logger: DriverLogger | undefined;
  readonly #client: Nfs3Client;
  readonly #where: string;
  readonly #identity: string;
  #session: Promise<Session> | undefined;
  /** Folder handles by path below base_dir (`container/a/b`). */
  readonly #folders = new Map<string, Buffer>();

  constructor(options: NfsOptions, context: DriverContext) {
    this.#options = options;
    this.#backend = context.backendName;
    this.#logger = context.logger;
    this.defaultContainer = options.container;
    this.capabilities = { maxObjectSize: options.max_object_size, preferredConcurrency: options.concurrency, verifiesPutChecksum: false };
    this.#where = `${options.server}:${options.export}`;
    this.#identity = `AUTH_SYS uid ${options.uid} gid ${options.gid}`;
    this.#client = new Nfs3Client({
      host: options.server,
      nfsPort: options.nfs_port,
      mountPort: options.mount_port,
      portmapperPort: options.portmapper_port,
      auth: { uid: options.uid, gid: options.gid, gids: options.gids },
      timeoutMs: options.timeout * 1000,
      connectTimeoutMs: options.connect_timeout * 1000,
      attempts: options.retry_attempts + 1,
      backoffMs: options.retry_backoff * 1000,
      maxRecordBytes: options.io_size + 64 * 1024,
    });
  }

  async doSetup(options?: CallOptions): Promise<void> {
    const signal = options?.signal;
    const prefix = `nfs backend ${this.#backend}: `;
    const step = async <T>(what: string, run: () => Promise<T>, context: Partial<NfsCallContext> = {}): Promise<T> => {
      try {
        return await run();
      } catch (error) {
        const mapped = toStowageError(error, this.#context(what, context.container, context.object));
        throw setupStepError(prefix, what, mapped, { backend: this.#backend, container: context.container });
      }
    };
    this.#session = undefined;
    this.#folders.clear();
    await step(`mounting ${this.#where}`, () => this.#sessionFor(signal, this.#options.create_base_dir));
    const container = this.defaultContainer;
    const exists = await step(`checking container ${container}`, () => this.#containerExists(container, signal), { container });
    if (!exists) {
      if (!this.#options.create_container) throw this.#missingContainer('setup', container);
      await step(`creating container ${container}`, () => this.#folder([container], true, signal), { container });
    }
    await runSetupProbe(objectProbe(this, container), {
      signal,
      onFailure: (what, error) => setupStepError(prefix, `${what} failed`, error, { backend: this.#backend, container }),
    });
    const swept = await this.#sweepCrashedWrites(container, signal).catch((error: unknown) => {
      this.#logger?.warn('sweeping temp files of crashed writes failed; the next setup tries again', { backend: this.#backend, error: String(error) });
      return 0;
    });
    if (swept > 0) this.#logger?.info('removed temp files that crashed or interrupted writes left behind', { backend: this.#backend, tempFiles: swept });
  }

  /**
   * Remove the temp files that writes interrupted by an outage or a crash left in `container`, once untouched for
   * `stale_temp_after_seconds` (by the server's mtime, which every WRITE renews): several hosts may share the export,
   * so age is the only safe sign of a dead writer.
   */
  async #sweepCrashedWrites(container: string, signal: AbortSignal | undefined): Promise<number> {
    const staleBefore = Date.now() - this.#options.stale_temp_after_seconds * 1000;
    let removed = 0;
    const sweep = async (dir: Buffer, depth: number): Promise<void> => {
      // Keys are a few folders deep; anything deeper is not ours to walk.
      if (depth > 16) return;
      for await (const entry of this.#entries(dir, signal)) {
        const type = entry.attributes?.type;
        if (type === FileType.Directory && !entry.name.startsWith('.') && entry.handle !== undefined) await sweep(entry.handle, depth + 1);
        else if (type === FileType.Directory && entry.name === PROBE_FOLDER && entry.handle !== undefined) await sweep(entry.handle, depth + 1);
        else if (type === FileType.Regular && entry.name.startsWith(TEMP_MARK) && (entry.attributes?.mtimeMs ?? Infinity) < staleBefore) {
          await this.#client.remove(dir, entry.name, `of ${entry.name}`, { signal }).then(
            () => (removed += 1),
            () => undefined,
          );
        }
      }
    };
    await sweep(await this.#folder([container], false, signal), 0);
    return removed;
  }

  async checkAvailable(options?: CallOptions): Promise<void> {
    const signal = options?.signal;
    const container = this.defaultContainer;
    try {
      const session = await this.#sessionFor(signal, false);
      await this.#client.getattr(session.base, 'of the base folder', { signal });
      if (!this.#options.create_container && !(await this.#containerExists(container, signal))) {
        throw this.#missingContainer('availability', container);
      }
    } catch (error) {
      if (isNfsStatus(error, 'NFS3ERR_STALE', 'NFS3ERR_BADHANDLE')) this.#forget();
      const mapped = toStowageError(error, this.#context('availability check', container));
      // Whatever the cause, the backend cannot take backups now.
      if (mapped.code === 'STORAGE_UNAVAILABLE' || mapped.code === 'ABORTED') throw mapped;
      throw new StorageUnavailableError(mapped.message, { backend: this.#backend, container, cause: mapped });
    }
  }

  async ensureContainer(container: string, options?: CallOptions): Promise<void> {
    const signal = options?.signal;
    try {
      if (await this.#containerExists(container, signal)) return;
      if (!this.#options.create_container) throw this.#missingContainer('ensure', container);
      await this.#folder([container], true, signal);
    } catch (error) {
      throw toStowageError(error, this.#context(`creating container ${container}`, container));
    }
  }

  async putObject(container: string, key: string, body: PutBody, options: PutObjectOptions): Promise<void> {
    const { signal } = options;
    const context = this.#context(`put of object ${container}/${key}`, container, key);
    const { folders, name } = this.#split(container, key);
    const temp = `${TEMP_MARK}${randomBytes(8).toString('hex')}`;
    let created: { dir: Buffer } | undefined;
    try {
      throwIfAborted(signal, context.operation);
      if (options.length > this.capabilities.maxObjectSize) {
        throw new RangeError(`object of ${options.length} bytes exceeds max_object_size ${this.capabilities.maxObjectSize}`);
      }
      const session = await this.#sessionFor(signal, false);
      // A folder handle gone stale (a concurrent delete removed the folder) is looked up, or made, once more.
      const { dir, handle } = await this.#onceMoreIfGone(folders, async () => {
        const dir = await this.#folder(folders, true, signal);
        return { dir, handle: await this.#client.create(dir, temp, this.#options.file_mode, false, `of ${temp}`, { signal }) };
      });
      created = { dir };
      await this.#writeAll(handle, countedBody(body, options.length), session.ioSize, context.operation, signal);
      // The caller's abort must not leave a rename half-known: it runs detached, bounded by its own timeout.
      await this.#client.rename(dir, temp, dir, name, `of ${temp} to ${name}`).catch(async (error: unknown) => {
        // A retry (the first attempt's answer lost with its connection) finds the temp file gone: renamed already.
        if (!isNfsStatus(error, 'NFS3ERR_NOENT') || (await this.#exists(dir, temp)) || !(await this.#exists(dir, name))) throw error;
      });
    } catch (error) {
      if (created !== undefined) {
        const dir = created.dir;
        await this.#client.remove(dir, temp, `of ${temp}`, { signal: AbortSignal.timeout(CLEANUP_TIMEOUT_MS) }).catch(() => undefined);
      }
      throw toStowageError(error, context);
    }
  }

  async getObject(container: string, key: string, options?: CallOptions): Promise<ObjectBody> {
    const signal = options?.signal;
    const context = this.#context(`get of object ${container}/${key}`, container, key);
    const { folders, name } = this.#split(container, key);
    let found: { handle: Buffer; size: number; ioSize: number };
    try {
      throwIfAborted(signal, context.operation);
      const session = await this.#sessionFor(signal, false);
      found = await this.#onceMoreIfGone(folders, async () => {
        const dir = await this.#folder(folders, false, signal);
        const { handle, attributes } = await this.#client.lookup(dir, name, `of ${name}`, { signal });
        const attrs = attributes ?? (await this.#client.getattr(handle, `of ${name}`, { signal }));
        if (attrs.type !== FileType.Regular) throw new StorageUnavailableError(`${container}/${key} is not a regular file on the export`);
        return { handle, size: attrs.size, ioSize: session.ioSize };
      });
    } catch (error) {
      throw toStowageError(error, context);
    }
    return this.#readAll(found.handle, found.size, found.ioSize, context, signal);
  }

  async deleteObject(container: string, key: string, options?: CallOptions): Promise<void> {
    const signal = options?.signal;
    const context = this.#context(`delete of object ${container}/${key}`, container, key);
    const { folders, name } = this.#split(container, key);
    try {
      throwIfAborted(signal, context.operation);
      await this.#sessionFor(signal, false);
      const dir = await this.#onceMoreIfGone(folders, () => this.#folder(folders, false, signal)).catch((error: unknown) => {
        if (isNfsStatus(error, 'NFS3ERR_NOENT')) return undefined;
        throw error;
      });
      if (dir === undefined) return;
      await this.#client.remove(dir, name, `of ${name}`, { signal }).catch((error: unknown) => {
        if (!isNfsStatus(error, 'NFS3ERR_NOENT')) throw error;
      });
      await this.#removeEmptyFolders(folders, signal);
    } catch (error) {
      throw toStowageError(error, context);
    }
  }

  async *listObjects(container: string, prefix: string, options?: CallOptions): AsyncIterable<string> {
    const signal = options?.signal;
    const context = this.#context(`listing of ${container}/${prefix}`, container);
    const cut = prefix.lastIndexOf('/');
    const keyFolder = cut < 0 ? '' : prefix.slice(0, cut + 1);
    const folders = [container, ...keyFolder.split('/').filter((segment) => segment !== '')];
    this.#validateSegments(folders, `${container}/${prefix}`);
    let start: Buffer | undefined;
    try {
      await this.#sessionFor(signal, false);
      start = await this.#folder(folders, false, signal).catch((error: unknown) => {
        if (isNfsStatus(error, 'NFS3ERR_NOENT', 'NFS3ERR_NOTDIR')) return undefined;
        throw error;
      });
    } catch (error) {
      throw toStowageError(error, context);
    }
    if (start === undefined) return;
    try {
      for await (const key of this.#walk(start, keyFolder, signal)) if (key.startsWith(prefix)) yield key;
    } catch (error) {
      throw toStowageError(error, context);
    }
  }

  async close(): Promise<void> {
    this.#client.close();
  }

  // ---- writing and reading ---------------------------------------------------------------------------------------

  /**
   * WRITE the body UNSTABLE, `requests_in_flight` at a time, then COMMIT. The data since the last COMMIT is kept
   * (views of the caller's buffers) so that it can be sent again when the write verifier changed: the server
   * restarted and may have lost it. Short writes send the rest.
   */
  async #writeAll(handle: Buffer, body: AsyncIterable<Uint8Array>, ioSize: number, operation: string, signal: AbortSignal | undefined): Promise<void> {
    const client = this.#client;
    const inFlight = new Set<Promise<void>>();
    let failure: unknown;
    let uncommitted: Array<{ offset: number; data: Uint8Array }> = [];
    let uncommittedBytes = 0;
    let verifier: Buffer | undefined;
    let verifierChanged = false;
    let offset = 0;

    const writeRange = async (at: number, data: Uint8Array): Promise<void> => {
      for (let done = 0; done < data.length; ) {
        const result = await client.write(handle, at + done, data.subarray(done), StableHow.Unstable, `at offset ${at + done}`, { signal });
        if (result.count === 0) throw new StorageUnavailableError(`the server accepted 0 of ${data.length - done} bytes at offset ${at + done}`);
        done += result.count;
        if (verifier === undefined) verifier = result.verifier;
        else if (!verifier.equals(result.verifier)) verifierChanged = true;
      }
    };
    const settle = async (all: boolean): Promise<void> => {
      while (inFlight.size > 0 && (all || inFlight.size >= this.#options.requests_in_flight)) await Promise.race(inFlight);
      if (failure !== undefined) throw failure;
    };
    const send = async (data: Uint8Array): Promise<void> => {
      throwIfAborted(signal, operation);
      const at = offset;
      offset += data.length;
      uncommitted.push({ offset: at, data });
      uncommittedBytes += data.length;
      const write = writeRange(at, data).then(
        () => undefined,
        (error: unknown) => {
          failure ??= error;
        },
      );
      const tracked = write.finally(() => inFlight.delete(tracked));
      inFlight.add(tracked);
      await settle(false);
      if (uncommittedBytes >= COMMIT_WINDOW) await commit();
    };
    const commit = async (): Promise<void> => {
      await settle(true);
      for (let round = 1; ; round += 1) {
        const committed = await client.commit(handle, 0, 0, 'of the temp file', { signal });
        if (!verifierChanged && (verifier === undefined || verifier.equals(committed))) break;
        if (round >= COMMIT_ROUNDS) throw new StorageUnavailableError(`the server's write verifier kept changing over ${round} COMMITs (it keeps restarting)`);
        // The server restarted since some WRITE: what it acknowledged UNSTABLE may be lost. Send it all again.
        this.#logger?.warn('the NFS server restarted during a write (its write verifier changed): sending the uncommitted data again', {
          backend: this.#backend,
          operation,
          bytes: uncommittedBytes,
          round,
        });
        verifier = committed;
        verifierChanged = false;
        for (const range of uncommitted) await writeRange(range.offset, range.data);
      }
      uncommitted = [];
      uncommittedBytes = 0;
    };

    // Small parts (streams) are gathered into ioSize pieces; large ones (the engine's chunks) are sliced, not copied.
    let gather: Buffer | undefined;
    let gathered = 0;
    try {
      for await (const part of body) {
        let at = 0;
        while (at < part.length) {
          if (gathered === 0 && part.length - at >= ioSize) {
            await send(part.subarray(at, at + ioSize));
            at += ioSize;
            continue;
          }
          gather ??= Buffer.allocUnsafe(ioSize);
          const take = Math.min(ioSize - gathered, part.length - at);
          gather.set(part.subarray(at, at + take), gathered);
          gathered += take;
          at += take;
          if (gathered === ioSize) {
            await send(gather);
            gather = undefined;
            gathered = 0;
          }
        }
      }
      if (gathered > 0 && gather !== undefined) await send(gather.subarray(0, gathered));
      await commit();
    } finally {
      // Nothing may still be writing into the temp file when the caller removes it.
      await Promise.allSettled([...inFlight]);
    }
  }

  /** The object's bytes in order, `requests_in_flight` READs ahead. */
  async *#readAll(handle: Buffer, size: number, ioSize: number, context: NfsCallContext, signal: AbortSignal | undefined): AsyncIterable<Uint8Array> {
    const client = this.#client;
    const readRange = async (at: number, count: number): Promise<Buffer> => {
      const parts: Buffer[] = [];
      let done = 0;
      while (done < count) {
        const { data, eof } = await client.read(handle, at + done, count - done, `at offset ${at + done}`, { signal });
        parts.push(data);
        done += data.length;
        if (eof || data.length === 0) break;
      }
      return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    };
    const ahead: Array<Promise<Buffer>> = [];
    let next = 0;
    const fill = () => {
      while (ahead.length < this.#options.requests_in_flight && next < size) {
        const count = Math.min(ioSize, size - next);
        const read = readRange(next, count);
        // Failures surface when their turn comes; until then they must not count as unhandled.
        read.catch(() => undefined);
        ahead.push(read);
        next += count;
      }
    };
    try {
      fill();
      while (ahead.length > 0) {
        const data = await ahead.shift()!;
        fill();
        if (data.length > 0) yield data;
      }
    } catch (error) {
      throw toStowageError(error, context);
    } finally {
      await Promise.allSettled(ahead);
    }
  }

  // ---- folders ---------------------------------------------------------------------------------------------------

  /**
   * MOUNT, FSINFO and the base folder, once per session (again after a failure or a stale handle). Shared by
   * concurrent callers, so no one caller's signal cancels it; its calls are bounded by their timeouts. A caller that
   * is cancelled meanwhile stops waiting.
   */
  async #sessionFor(signal: AbortSignal | undefined, createBase: boolean): Promise<Session> {
    this.#session ??= this.#openSession(createBase).catch((error: unknown) => {
      this.#session = undefined;
      throw error;
    });
    if (signal === undefined) return this.#session;
    throwIfAborted(signal, `nfs backend ${this.#backend}: mounting ${this.#where}`);
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(new AbortedError(`nfs backend ${this.#backend}: mounting ${this.#where} was cancelled`, { cause: signal.reason }));
      signal.addEventListener('abort', onAbort, { once: true });
    });
    return Promise.race([this.#session, aborted]).finally(() => signal.removeEventListener('abort', onAbort!));
  }

  async #openSession(createBase: boolean): Promise<Session> {
    const root = await this.#client.mount(this.#options.export);
    const info = await this.#client.fsinfo(root);
    const ioSize = Math.max(4096, Math.min(this.#options.io_size, info.wtmax || this.#options.io_size, info.rtmax || this.#options.io_size));
    let base = root;
    for (const segment of this.#options.base_dir.split('/').filter((part) => part !== '')) {
      base = await this.#lookupOrMake(base, segment, createBase, undefined).catch((error: unknown) => {
        if (!isNfsStatus(error, 'NFS3ERR_NOENT')) throw error;
        throw new StorageUnavailableError(
          `base_dir ${this.#options.base_dir} does not exist below ${this.#where}` +
            (createBase || !this.#options.create_base_dir
              ? ' and create_base_dir is false; create it or set create_base_dir: true'
              : '; only doSetup creates it (was the export replaced or emptied?)'),
          { backend: this.#backend, cause: error },
        );
      });
    }
    return { base, ioSize };
  }

  async #containerExists(container: string, signal: AbortSignal | undefined): Promise<boolean> {
    await this.#sessionFor(signal, false);
    return this.#folder([container], false, signal).then(
      () => true,
      (error: unknown) => {
        if (isNfsStatus(error, 'NFS3ERR_NOENT')) return false;
        throw error;
      },
    );
  }

  /** The handle of `base_dir/<folders...>`, from the cache, looked up, or made (when `create`). */
  async #folder(folders: readonly string[], create: boolean, signal: AbortSignal | undefined): Promise<Buffer> {
    const session = await this.#sessionFor(signal, false);
    let depth = folders.length;
    let handle: Buffer | undefined;
    for (; depth > 0; depth -= 1) {
      handle = this.#folders.get(folders.slice(0, depth).join('/'));
      if (handle !== undefined) break;
    }
    handle ??= session.base;
    for (; depth < folders.length; depth += 1) {
      // The container itself is made only when create_container allows; folders below it always.
      const mayCreate = create && (depth > 0 || this.#options.create_container);
      handle = await this.#lookupOrMake(handle, folders[depth]!, mayCreate, signal).catch((error: unknown) => {
        if (depth === 0 && create && !mayCreate && isNfsStatus(error, 'NFS3ERR_NOENT')) throw this.#missingContainer('ensure', folders[0]!);
        throw error;
      });
      this.#folders.set(folders.slice(0, depth + 1).join('/'), handle);
    }
    return handle;
  }

  async #lookupOrMake(dir: Buffer, name: string, create: boolean, signal: AbortSignal | undefined): Promise<Buffer> {
    try {
      const found = await this.#client.lookup(dir, name, `of folder ${name}`, { signal });
      if (found.attributes !== undefined && found.attributes.type !== FileType.Directory) {
        throw new StorageUnavailableError(`${name} on ${this.#where} is not a folder; remove it or choose another container or base_dir`);
      }
      return found.handle;
    } catch (error) {
      if (!create || !isNfsStatus(error, 'NFS3ERR_NOENT')) throw error;
    }
    try {
      return await this.#client.mkdir(dir, name, this.#options.dir_mode, `of folder ${name}`, { signal });
    } catch (error) {
      // Made meanwhile by another writer (or by this MKDIR's first attempt, retried after a dropped connection).
      if (!isNfsStatus(error, 'NFS3ERR_EXIST')) throw error;
      return (await this.#client.lookup(dir, name, `of folder ${name}`, { signal })).handle;
    }
  }

  /**
   * Run `work`; when a handle under `folders` has gone (STALE: removed or replaced; NOENT on a cached folder a
   * concurrent delete removed), forget the cached handles and run it once more.
   */
  async #onceMoreIfGone<T>(folders: readonly string[], work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if (!isNfsStatus(error, 'NFS3ERR_STALE', 'NFS3ERR_BADHANDLE', 'NFS3ERR_NOENT')) throw error;
      const cached = folders.some((_, index) => this.#folders.has(folders.slice(0, index + 1).join('/')));
      const stale = isNfsStatus(error, 'NFS3ERR_STALE', 'NFS3ERR_BADHANDLE');
      if (!stale && !cached) throw error;
      if (stale) this.#forget();
      else for (let index = 0; index < folders.length; index += 1) this.#folders.delete(folders.slice(0, index + 1).join('/'));
      return work();
    }
  }

  /**
   * After a delete, remove the key's folders left empty, deepest first, never the container. Best effort: a folder
   * still holding objects, or removed meanwhile by a concurrent delete (NOENT, or STALE for its parent), ends it.
   */
  async #removeEmptyFolders(folders: readonly string[], signal: AbortSignal | undefined): Promise<void> {
    for (let depth = folders.length - 1; depth >= 1; depth -= 1) {
      const parent = this.#folders.get(folders.slice(0, depth).join('/'));
      if (parent === undefined) return;
      const path = folders.slice(0, depth + 1).join('/');
      const removed = await this.#client.rmdir(parent, folders[depth]!, `of folder ${path}`, { signal }).then(
        () => true,
        (error: unknown) => isNfsStatus(error, 'NFS3ERR_NOENT'),
      );
      this.#folders.delete(path);
      if (!removed) return;
    }
  }

  /** Every entry of a folder but `.` and `..`, page by page. */
  async *#entries(dir: Buffer, signal: AbortSignal | undefined): AsyncIterable<DirEntry> {
    let cookie = 0n;
    let verifier: Buffer = Buffer.alloc(8);
    // Bounded: a directory that never reaches eof is a server bug, not a reason to loop forever.
    for (let page = 0; page < 1_000_000; page += 1) {
      throwIfAborted(signal, 'listing a folder');
      const listing = await this.#client.readdirplus(dir, cookie, verifier, 'of a folder', { signal });
      verifier = listing.cookieVerifier;
      for (const entry of listing.entries) {
        cookie = entry.cookie;
        if (entry.name !== '.' && entry.name !== '..') yield entry;
      }
      if (listing.eof) return;
    }
  }

  async *#walk(dir: Buffer, keyPrefix: string, signal: AbortSignal | undefined): AsyncIterable<string> {
    for await (const entry of this.#entries(dir, signal)) {
      if (entry.name.startsWith('.')) continue;
      let type = entry.attributes?.type;
      let handle = entry.handle;
      if (type === undefined || (type === FileType.Directory && handle === undefined)) {
        const found = await this.#client.lookup(dir, entry.name, `of ${keyPrefix}${entry.name}`, { signal });
        type = found.attributes?.type ?? FileType.Regular;
        handle = found.handle;
      }
      if (type === FileType.Directory) yield* this.#walk(handle!, `${keyPrefix}${entry.name}/`, signal);
      else if (type === FileType.Regular) yield keyPrefix + entry.name;
    }
  }

  async #exists(dir: Buffer, name: string): Promise<boolean> {
    return this.#client.lookup(dir, name, `of ${name}`).then(
      () => true,
      (error: unknown) => {
        if (isNfsStatus(error, 'NFS3ERR_NOENT')) return false;
        throw error;
      },
    );
  }

  #forget(): void {
    this.#session = undefined;
    this.#folders.clear();
  }

  #split(container: string, key: string): { folders: string[]; name: string } {
    const segments = key.split('/');
    // The setup probe's folder is the one dot-name allowed: listings skip dot-names, so it never shows.
    const probe = segments.length === 2 && segments[0] === PROBE_FOLDER;
    this.#validateSegments(probe ? segments.slice(1) : segments, key);
    this.#validateSegments([container], container);
    const name = segments.pop()!;
    return { folders: [container, ...segments], name };
  }

  #validateSegments(segments: readonly string[], what: string): void {
    for (const segment of segments) {
      if (segment === '' || segment.startsWith('.') || segment.includes('\0') || Buffer.byteLength(segment) > 255) {
        throw new StorageUnavailableError(
          `nfs backend ${this.#backend}: ${JSON.stringify(what)} cannot be stored: every segment must be a non-empty name of at most 255 bytes, not starting with "."`,
          { backend: this.#backend },
        );
      }
    }
  }

  #missingContainer(check: 'setup' | 'availability' | 'ensure', container: string): StowageError {
    return missingContainerError(check, {
      prefix: `nfs backend ${this.#backend}: `,
      backend: this.#backend,
      container,
      noun: 'container folder',
      option: 'create_container',
      at: `${this.#where}/${this.#options.base_dir}`.replace(/\/+$/, ''),
    });
  }

  #context(operation: string, container?: string, object?: string): NfsCallContext {
    return { backend: this.#backend, operation, container, object, where: this.#where, identity: this.#identity };
  }
}
