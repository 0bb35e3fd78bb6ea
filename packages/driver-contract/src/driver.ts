/**
 * The storage-driver contract, version `stowage.driver/v1`.
 *
 * A driver is deliberately small: it stores and fetches opaque objects in containers. Everything that makes a
 * backup (chunking, hashing, compression, incrementals, integrity checks, retries of whole operations, the
 * init lifecycle) lives in `@stowage/core`'s engine and manager, so that every driver behaves the same way.
 *
 * v1 once also declared `atomicPut` and `canCreateContainer`; nothing read them, so they were removed. A v1 package
 * that still declares them keeps loading: extra capability fields are ignored.
 */
import type { OptionsSchema } from './options-schema.js';

export const DRIVER_CONTRACT_V1 = 'stowage.driver/v1';
export type DriverContractVersion = typeof DRIVER_CONTRACT_V1;

/** What a driver declares about its backend. The engine and the contract suite read these; nothing is implied. */
export interface DriverCapabilities {
  /** Largest object the backend accepts, in bytes. The engine never writes a bigger chunk. */
  readonly maxObjectSize: number;
  /** Objects written concurrently that the backend handles well; the engine's upload parallelism. */
  readonly preferredConcurrency: number;
  /** True when `putObject` verifies the received bytes against the given sha256 itself (end to end). */
  readonly verifiesPutChecksum: boolean;
  /**
   * True when `putObject` accepts a body viewing a `SharedArrayBuffer` (it writes with `fs` calls; `fetch` and
   * most HTTP clients refuse shared memory). The engine then uploads straight from its shared chunk buffers
   * instead of copying every stored byte into a plain one first. Absent: false.
   */
  readonly acceptsSharedMemory?: boolean | undefined;
}

/** Byte stream of an object. Node's `Readable` satisfies it. */
export type ObjectBody = AsyncIterable<Uint8Array>;

/**
 * What `putObject` receives: the bytes at hand (the engine's chunks are in memory already) or a stream.
 * `bodyParts()` iterates either. The engine reuses the body's memory once `putObject` settles: a driver copies
 * whatever it keeps.
 */
export type PutBody = Uint8Array | AsyncIterable<Uint8Array>;

export async function* bodyParts(body: PutBody): AsyncIterable<Uint8Array> {
  if (body instanceof Uint8Array) yield body;
  else yield* body;
}

export interface PutObjectOptions {
  /** Exact length of the body in bytes. */
  readonly length: number;
  /**
   * Hex sha256 of the body, given when the driver declares `verifiesPutChecksum` (the engine does not spend CPU
   * hashing stored bytes for drivers that would ignore it; restores verify every block's own sha256 anyway).
   */
  readonly sha256?: string | undefined;
  readonly signal?: AbortSignal | undefined;
}

export interface CallOptions {
  readonly signal?: AbortSignal | undefined;
}

/**
 * A storage driver created by a plugin's factory.
 *
 * Errors: every method throws this package's typed errors (`NotFoundError`, `StorageUnavailableError`,
 * `StorageAuthError`, `DriverSetupError`), with the backend's own error as `cause` and the backend, container
 * and object named. Every call honours its `AbortSignal`.
 */
export interface StorageDriver {
  /** Driver kind, e.g. `posix`, `swift`. */
  readonly driverName: string;
  readonly capabilities: DriverCapabilities;
  /** The container used when a backup names none (Cinder's `backup_container` / `backup_swift_container`). */
  readonly defaultContainer: string;

  /**
   * Verify configuration and connectivity, create the default container if configured to, and prove the
   * storage is usable (drivers write and delete a probe). Throws `DriverSetupError` with `cause` on failure.
   * Called by the manager at start-up and again periodically until it succeeds.
   */
  doSetup(options?: CallOptions): Promise<void>;

  /** A cheap reachability check before each backup (a HEAD, a stat). Throws `StorageUnavailableError`. */
  checkAvailable(options?: CallOptions): Promise<void>;

  /** Make sure `container` exists (creating it if the backend and the configuration allow). */
  ensureContainer(container: string, options?: CallOptions): Promise<void>;

  /** Store an object; the body yields exactly `length` bytes. Overwrites an existing object of that key. */
  putObject(container: string, key: string, body: PutBody, options: PutObjectOptions): Promise<void>;

  /** Stream an object. Throws `NotFoundError` when it does not exist. */
  getObject(container: string, key: string, options?: CallOptions): Promise<ObjectBody>;

  /**
   * Optional fast path: read a whole object into `target` (no stream, no intermediate buffers) and return its
   * length; throws `NotFoundError` when missing and RangeError when it is longer than `target`. The engine's
   * restore uses it when present (a local filesystem reads straight into the engine's reusable buffers).
   */
  readObjectInto?(container: string, key: string, target: Uint8Array, options?: CallOptions): Promise<number>;

  /** Delete an object. Deleting a missing object succeeds (deletes are retried and resumed). */
  deleteObject(container: string, key: string, options?: CallOptions): Promise<void>;

  /** Every key in `container` that starts with `prefix`, in no particular order. A missing container lists nothing. */
  listObjects(container: string, prefix: string, options?: CallOptions): AsyncIterable<string>;

  /** Release connections and timers. Optional: drivers holding nothing need not implement it. */
  close?(): Promise<void>;
}

/** What the service hands a driver factory besides its validated options. */
export interface DriverContext {
  /** The backend's configured name (`backends[].name`), for error messages. */
  readonly backendName: string;
  /** A folder the driver may use for its own state (mount points, caches). */
  readonly statePath: string;
  readonly logger?: DriverLogger | undefined;
}

export interface DriverLogger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/**
 * What a driver package exports as its default export.
 *
 * The loader checks `contract` first and refuses other versions, then validates the backend's `options` with
 * `optionsSchema` (every bad field named), then calls `create`.
 */
export interface DriverPlugin<Options = unknown> {
  readonly contract: DriverContractVersion;
  /** Driver kind, e.g. `posix`; matches `StorageDriver.driverName`. */
  readonly name: string;
  /** The npm package version, for `os-services` and logs. */
  readonly version: string;
  readonly optionsSchema: OptionsSchema<Options>;
  create(options: Options, context: DriverContext): StorageDriver;
}

/** Identity helper that type-checks a plugin definition. */
export function defineDriverPlugin<Options>(plugin: DriverPlugin<Options>): DriverPlugin<Options> {
  return plugin;
}

/**
 * The `doSetup` of a driver that has nothing to verify at start-up (the spec's base-driver `do_setup`).
 * Opt in explicitly with `doSetup: noSetupNeeded`; there is no hidden default.
 */
export async function noSetupNeeded(_options?: CallOptions): Promise<void> {}
