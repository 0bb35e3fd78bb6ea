import {
  AbortedError,
  StorageUnavailableError,
  throwIfAborted,
  type StowageError,
  type CallOptions,
  type DriverCapabilities,
  type DriverContext,
  type DriverLogger,
  type ObjectBody,
  type PutBody,
  type PutObjectOptions,
  type StorageDriver,
} from '@stowage/driver-contract';
import { countedBody, runSetupProbe } from '@stowage/driver-utils';
import { dropCachedPages } from './page-cache.js';
import { createHash, randomBytes } from 'node:crypto';
import { constants, type Dirent } from 'node:fs';
import { mkdir, open, opendir, readFile, readdir, rename, rmdir, stat, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { addAbortSignal } from 'node:stream';
import type { PosixOptions } from './posix-config.js';
import { describeFsError, errnoOf, mapObjectError, setupError, type ObjectRef } from './posix-errors.js';

const FILE_MODE = 0o660;
const DIR_MODE = 0o770;
/** Fan-out folders are named `@xx`; `@` cannot start a key segment, so they never clash with key folders. */
const FANOUT_MARK = '@';
const TEMP_MARK = '.stowage-tmp-';
/**
 * A write touches its temp file at every write and renames it within seconds; one untouched for an hour belongs to
 * a writer that crashed, on this host or on another sharing the folder, and the margin dwarfs clock skew.
 */
export const DEFAULT_STALE_TEMP_AFTER_SECONDS = 3600;

/**
 * Objects as files: `<path>/<container>/<key folders>/@<xx>/<key basename>`. The `@xx` level (the first byte of
 * the basename's sha256) spreads a backup's chunks over up to 256 folders, so no folder grows huge, while a key's
 * own folders stay intact and listing a backup's prefix reads only that backup's folder.
 * Writes go to a temp file, are fsynced, renamed into place and the folder fsynced: atomic and durable.
 */
export class PosixStore implements StorageDriver {
  readonly driverName = 'posix';
  readonly capabilities: DriverCapabilities = {
    maxObjectSize: 4 * 1024 * 1024 * 1024,
    preferredConcurrency: 2,
    verifiesPutChecksum: false,
    // Bodies go to fs.write, which takes shared memory: the engine skips its upload copy.
    acceptsSharedMemory: true,
  };
  readonly defaultContainer: string;
  readonly #options: PosixOptions;
  readonly #backend: string;
  readonly #logger: DriverLogger | undefined;

  constructor(options: PosixOptions, context: DriverContext) {
    this.#options = options;
    this.#backend = context.backendName;
    this.#logger = context.logger;
    this.defaultContainer = options.container;
  }

  async doSetup(options?: CallOptions): Promise<void> {
    const root = this.#options.path;
    let info = await stat(root).catch((error: unknown) => {
      if (errnoOf(error) === 'ENOENT') return undefined;
      throw setupError(this.#backend, `cannot use backup path ${describeFsError(root, error)}`, error);
    });
    if (info === undefined) {
      if (!this.#options.create_path) {
        throw setupError(this.#backend, `backup path ${root} does not exist; create it or set create_path: true`);
      }
      await mkdir(root, { recursive: true, mode: DIR_MODE }).catch((error: unknown) => {
        throw setupError(this.#backend, `cannot create backup path: ${describeFsError(root, error)}`, error);
      });
      info = await stat(root);
    }
    if (!info.isDirectory()) {
      throw setupError(this.#backend, `backup path ${root} is not a folder; point path at a folder (or remove the file)`);
    }
    throwIfAborted(options?.signal, `setup of backend ${this.#backend}`);
    // Permission bits say little (root ignores them; mounts can be read-only): write, read back and remove a probe.
    const probe = {
      describe: (name: string) => join(root, name),
      write: (name: string, data: Uint8Array) => writeFileDurably(join(root, name), data, this.#options.fsync),
      read: (name: string) => readFile(join(root, name)),
      remove: (name: string) => unlink(join(root, name)),
    };
    await runSetupProbe(probe, {
      signal: options?.signal,
      keyPrefix: `${TEMP_MARK}probe-`,
      onFailure: (step, error) => setupError(this.#backend, `backup path is not usable (${step} failed): ${describeFsError(root, error)}`, error),
    });
    await this.ensureContainer(this.defaultContainer, options).catch((error: unknown) => {
      throw setupError(this.#backend, `cannot create container ${this.defaultContainer}: ${(error as Error).message}`, error);
    });
    const swept = await this.#sweepCrashedWrites(options?.signal);
    if (swept.files + swept.folders > 0) {
      this.#logger?.info('removed what crashed writes left behind', { backend: this.#backend, tempFiles: swept.files, emptyFolders: swept.folders });
    }
  }

  /**
   * Remove the temp files and empty folders that crashed writes left, once untouched for `stale_temp_after_seconds`
   * (by mtime, which every write of a live temp file and every entry added to a folder renews). Several hosts may
   * share the folder, so age is the only safe sign of a dead writer. A writer that finds a folder swept away under
   * it recreates it (`openForCreate`). Best effort: what cannot be removed stays for the next setup.
   */
  async #sweepCrashedWrites(signal: AbortSignal | undefined): Promise<{ files: number; folders: number }> {
    const maxAgeMs = (this.#options.stale_temp_after_seconds ?? DEFAULT_STALE_TEMP_AFTER_SECONDS) * 1000;
    const staleBefore = Date.now() - maxAgeMs;
    const swept = { files: 0, folders: 0 };
    const isStale = async (path: string) => ((await stat(path).catch(() => undefined))?.mtimeMs ?? Infinity) < staleBefore;
    const removeIfStaleTemp = async (path: string) => {
      if ((await isStale(path)) && (await unlink(path).then(() => true, () => false))) swept.files += 1;
    };
    const sweepFolder = async (folder: string, isContainer: boolean): Promise<void> => {
      throwIfAborted(signal, `setup of backend ${this.#backend}`);
      // Judged by the folder's age before the sweep: removing a temp file inside renews its mtime.
      const wasStale = await isStale(folder);
      const entries = await readdir(folder, { withFileTypes: true }).catch(() => []);
      for (const entry of entries) {
        const path = join(folder, entry.name);
        if (entry.isFile() && entry.name.startsWith(TEMP_MARK)) await removeIfStaleTemp(path);
        else if (entry.isDirectory() && !entry.name.startsWith('.')) await sweepFolder(path, false);
      }
      if (!isContainer && wasStale && (await rmdir(folder).then(() => true, () => false))) swept.folders += 1;
    };
    const root = this.#options.path;
    for (const entry of await readdir(root, { withFileTypes: true }).catch(() => [])) {
      const path = join(root, entry.name);
      // The setup probe's leftovers live at the root, next to the containers.
      if (entry.isFile() && entry.name.startsWith(TEMP_MARK)) await removeIfStaleTemp(path);
      else if (entry.isDirectory() && !entry.name.startsWith('.')) await sweepFolder(path, true);
    }
    return swept;
  }

  async checkAvailable(options?: CallOptions): Promise<void> {
    throwIfAborted(options?.signal, `availability check of backend ${this.#backend}`);
    const root = this.#options.path;
    try {
      const info = await stat(root);
      if (!info.isDirectory()) throw Object.assign(new Error('not a folder'), { code: 'ENOTDIR' });
      const handle = await open(root, constants.O_RDONLY | constants.O_DIRECTORY);
      await handle.close();
    } catch (error) {
      throw new StorageUnavailableError(`backend ${this.#backend}: backup path ${describeFsError(root, error)}`, {
        cause: error,
        backend: this.#backend,
      });
    }
  }

  async ensureContainer(container: string, options?: CallOptions): Promise<void> {
    throwIfAborted(options?.signal, `ensure container ${container}`);
    const path = this.#containerPath(container);
    // Not recursive: while the backup path is gone (an unmounted mount) it must not be recreated empty.
    await mkdir(path, { mode: DIR_MODE }).catch(async (error: unknown) => {
      if (errnoOf(error) !== 'EEXIST') throw await this.#mapError(error, 'create container', container, '', path);
    });
  }

  async putObject(container: string, key: string, body: PutBody, options: PutObjectOptions): Promise<void> {
    const path = this.#objectPath(container, key);
    const temp = `${dirname(path)}/${TEMP_MARK}${randomBytes(6).toString('hex')}`;
    let handle: FileHandle | undefined;
    try {
      throwIfAborted(options.signal, `put ${container}/${key}`);
      handle = await openForCreate(temp, this.#containerPath(container));
      for await (const part of countedBody(body, options.length)) {
        throwIfAborted(options.signal, `put ${container}/${key}`);
        await writeAll(handle, part);
      }
      if (this.#options.fsync) {
        await handle.sync();
        await dropCachedPages(handle.fd);
      }
      await handle.close();
      handle = undefined;
      await rename(temp, path);
      if (this.#options.fsync) await syncFolder(dirname(path));
    } catch (error) {
      await handle?.close().catch(() => undefined);
      await unlink(temp).catch(() => undefined);
      await this.#removeEmptyFolders(dirname(temp), container);
      if (AbortedError.isInstance(error)) throw error;
      throw await this.#mapError(error, 'put', container, key, path);
    }
  }

  async getObject(container: string, key: string, options?: CallOptions): Promise<ObjectBody> {
    throwIfAborted(options?.signal, `get ${container}/${key}`);
    const path = this.#objectPath(container, key);
    const handle = await open(path, 'r').catch(async (error: unknown) => {
      throw await this.#mapError(error, 'get', container, key, path);
    });
    const stream = handle.createReadStream({ highWaterMark: 1024 * 1024 });
    if (options?.signal) addAbortSignal(options.signal, stream);
    return stream;
  }

  /** Restores read chunks straight into the engine's reusable buffers: no stream, no garbage. */
  async readObjectInto(container: string, key: string, target: Uint8Array, options?: CallOptions): Promise<number> {
    throwIfAborted(options?.signal, `get ${container}/${key}`);
    const path = this.#objectPath(container, key);
    const handle = await open(path, 'r').catch(async (error: unknown) => {
      throw await this.#mapError(error, 'get', container, key, path);
    });
    try {
      const { size } = await handle.stat();
      if (size > target.length) throw new RangeError(`object is larger than the ${target.length} bytes expected`);
      let filled = 0;
      while (filled < size) {
        const { bytesRead } = await handle.read(target, filled, size - filled, filled);
        if (bytesRead === 0) break;
        filled += bytesRead;
      }
      // Read once per restore: its pages are better reused for the restored volume than kept.
      await dropCachedPages(handle.fd);
      return filled;
    } finally {
      await handle.close();
    }
  }

  async deleteObject(container: string, key: string, options?: CallOptions): Promise<void> {
    throwIfAborted(options?.signal, `delete ${container}/${key}`);
    const path = this.#objectPath(container, key);
    try {
      await unlink(path);
    } catch (error) {
      if (errnoOf(error) === 'ENOENT') return;
      throw await this.#mapError(error, 'delete', container, key, path);
    }
    await this.#removeEmptyFolders(dirname(path), container);
  }

  /** Remove folders left empty (fan-out, then the key's own folders), stopping at the container. */
  async #removeEmptyFolders(from: string, container: string): Promise<void> {
    const stop = this.#containerPath(container);
    for (let folder = from; folder.length > stop.length; folder = dirname(folder)) {
      if (!(await rmdir(folder).then(() => true, () => false))) break;
    }
  }

  async *listObjects(container: string, prefix: string, options?: CallOptions): AsyncIterable<string> {
    const cut = prefix.lastIndexOf('/');
    const keyFolder = cut < 0 ? '' : prefix.slice(0, cut + 1);
    validateKey(keyFolder === '' ? 'x' : `${keyFolder}x`);
    const start = join(this.#containerPath(container), keyFolder);
    for await (const key of walk(start, keyFolder, options?.signal)) {
      if (key.startsWith(prefix)) yield key;
    }
  }

  #containerPath(container: string): string {
    if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(container)) {
      throw new StorageUnavailableError(`backend ${this.#backend}: container name ${JSON.stringify(container)} is not a plain folder name`);
    }
    return join(this.#options.path, container);
  }

  #objectPath(container: string, key: string): string {
    validateKey(key);
    const cut = key.lastIndexOf('/');
    const base = key.slice(cut + 1);
    const fanout = FANOUT_MARK + createHash('sha256').update(base).digest('hex').slice(0, 2);
    return join(this.#containerPath(container), key.slice(0, cut + 1), fanout, base);
  }

  #mapError(error: unknown, action: string, container: string, object: string, path: string): Promise<StowageError> {
    const ref: ObjectRef = { backend: this.#backend, container, object };
    return mapObjectError(error, action, ref, path, this.#options.path);
  }
}

/** Keys are `/`-separated segments; none empty, `.`/`..`, or starting with `.` or `@` (reserved here). */
function validateKey(key: string): void {
  for (const segment of key.split('/')) {
    if (segment === '' || segment.startsWith('.') || segment.startsWith(FANOUT_MARK) || segment.includes('\0')) {
      throw new StorageUnavailableError(
        `object key ${JSON.stringify(key)} cannot be stored by the posix driver: segments must be non-empty and not start with "." or "@"`,
      );
    }
  }
}

/** Yields the keys stored under `folder` (whose key prefix is `keyPrefix`), descending into fan-out folders. */
async function* walk(folder: string, keyPrefix: string, signal: AbortSignal | undefined): AsyncIterable<string> {
  let entries: AsyncIterable<Dirent>;
  try {
    entries = await opendir(folder);
  } catch (error) {
    if (errnoOf(error) === 'ENOENT' || errnoOf(error) === 'ENOTDIR') return;
    throw error;
  }
  for await (const entry of entries) {
    throwIfAborted(signal, `list ${folder}`);
    if (entry.name.startsWith('.')) continue;
    const path = join(folder, entry.name);
    if (entry.isDirectory()) {
      const fanout = entry.name.startsWith(FANOUT_MARK);
      yield* walk(path, fanout ? keyPrefix : `${keyPrefix}${entry.name}/`, signal);
    } else if (entry.isFile()) {
      yield keyPrefix + entry.name;
    }
  }
}

async function openForCreate(path: string, containerPath: string): Promise<FileHandle> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await open(path, 'wx', FILE_MODE);
    } catch (error) {
      if (errnoOf(error) !== 'ENOENT' || attempt === 3) throw error;
      // The folder is missing: a new key folder, or a concurrent delete removed it as it emptied.
      await makeFoldersBelow(containerPath, dirname(path));
    }
  }
}

/**
 * Create the folders from `containerPath` (exclusive) down to `folder`, one level at a time and never the container
 * itself: while the storage is gone (an unmounted mount, a folder moved away) the first level fails with ENOENT
 * instead of a recursive mkdir quietly filling an empty stand-in that the real storage would later hide.
 */
async function makeFoldersBelow(containerPath: string, folder: string): Promise<void> {
  const levels = folder.slice(containerPath.length).split('/').filter((segment) => segment !== '');
  let current = containerPath;
  for (const level of levels) {
    current = join(current, level);
    await mkdir(current, { mode: DIR_MODE }).catch((error: unknown) => {
      if (errnoOf(error) !== 'EEXIST') throw error;
    });
  }
}

async function writeAll(handle: FileHandle, data: Uint8Array): Promise<void> {
  let written = 0;
  while (written < data.length) {
    const result = await handle.write(data, written, data.length - written);
    written += result.bytesWritten;
  }
}

async function writeFileDurably(path: string, data: Uint8Array, fsync: boolean): Promise<void> {
  const handle = await open(path, 'wx', FILE_MODE);
  try {
    await writeAll(handle, data);
    if (fsync) await handle.sync();
  } finally {
    await handle.close();
  }
}

/** fsync a folder so a rename into it survives a crash. */
async function syncFolder(path: string): Promise<void> {
  const handle = await open(path, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
