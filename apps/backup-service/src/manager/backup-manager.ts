/**
 * The backup manager of one process: one `BackendLifecycle` (core) and one `BackupEngine` per configured
 * backend, and the execution of operations on those backends (under `backup_max_operations`, abortable, waited for
 * at shutdown).
 *
 * The manager decides nothing about rows: each execution is handed the operation's steps (`CreateSteps`...) and
 * calls them where the state changes, then reports an outcome. Which host runs what, and what happens next
 * (another host after `storage-unreachable`), is the operation's business.
 */
import {
  AbortedError,
  BackendLifecycle,
  BackupEngine,
  OperationLimiter,
  defaultBackupPrefix,
  describeError,
  EncryptionKeyError,
  InvalidBackupError,
  openRestoreFile,
  openVolumeFile,
  type BackupLocation,
  type BackupResult,
  type DriverPlugin,
  type ExpectedBackup,
  type Notifier,
  type ObjectEncryption,
  type RestoreResult,
  type StorageDriver,
} from '@stowage/core';
import type { Logger } from 'pino';
import type { ServiceConfig } from '../config/load-config.js';
import type { Store } from '../db/store.js';
import type { LoadedBackend } from '../plugins/plugin-loader.js';
import type { OperationOutcome, ServiceMetrics } from '../observability/metrics.js';
import { ProgressTracker, type OperationKind, type TrackedOperation } from '../observability/progress-tracker.js';
import type { MasterKeys } from '../encryption/master-keys.js';
import { ProjectKeyStore } from '../encryption/project-keys.js';

export interface BackendRuntime {
  readonly name: string;
  /** `<host>@<name>`. */
  readonly serviceHost: string;
  readonly availabilityZone: string;
  readonly plugin: DriverPlugin;
  readonly packageName: string;
  readonly driver: StorageDriver;
  readonly engine: BackupEngine;
  readonly lifecycle: BackendLifecycle;
  /** The project data keys, when the backend encrypts (its `encryption` block). */
  readonly keys: ProjectKeyStore | undefined;
}

/** What an execution reports back to the operation that asked for it. */
export type ExecutionOutcome =
  | { readonly kind: 'done' }
  /** The host's storage did not answer before the work started; nothing was written. Place it elsewhere. */
  | { readonly kind: 'storage-unreachable'; readonly reason: string }
  | { readonly kind: 'failed'; readonly reason: string }
  /** The operation's row moved on (deleted, reset) before the work started; nothing was done. */
  | { readonly kind: 'skipped' };

/** The backup a create writes. */
export interface CreateWork {
  readonly backupId: string;
  readonly volumeId: string;
  readonly container: string | null;
  /** The parent's data location for an incremental. */
  readonly parent: BackupLocation | undefined;
  readonly projectId: string;
  /** The parent's data key (an incremental of an encrypted backup is encrypted with it); null: the parent is plain. */
  readonly parentEncryptionKeyId: string | null;
}

/** The volume a create reads. */
export interface CreateSource {
  readonly path: string;
  readonly sizeGiB: number;
  readonly metadata: Record<string, unknown>;
}

/** Where a create puts the backup's data on its backend. */
export interface CreateLocation extends BackupLocation {
  readonly driverName: string;
  readonly backendName: string;
  readonly availabilityZone: string;
}

/** The create operation's transitions, called by the manager as the create runs on the backend. */
export interface CreateSteps {
  /** The slot is ours: the work as it stands now, or undefined when the backup is no longer this host's create. */
  begin(): Promise<CreateWork | undefined>;
  /** Before any data is written: the volume to read, or undefined when the create must not go on (the step recorded why). */
  started(location: CreateLocation): Promise<CreateSource | undefined>;
  progress(percent: number): void;
  finished(result: BackupResult): Promise<void>;
  failed(reason: string, error?: unknown): Promise<void>;
}

export interface RestoreWork {
  readonly location: BackupLocation;
  /** What the row says the backup is: metadata that disagrees is refused before the target is touched. */
  readonly expected: ExpectedBackup;
  readonly volumePath: string;
  readonly projectId: string;
  /** The row's encryption_key_id: the data key the backup needs. */
  readonly encryptionKeyId: string | null;
}

export interface RestoreSteps {
  /** The slot is ours: the work as it stands now, or undefined when there is nothing (more) to do. */
  begin(): Promise<RestoreWork | undefined>;
  /** `sourceVolumeMetadata`: the backed-up volume's metadata as the backup's metadata object records it. */
  finished(result: RestoreResult, sourceVolumeMetadata: unknown): Promise<void>;
  failed(reason: string, error?: unknown): Promise<void>;
}

export interface ImportWork {
  readonly location: BackupLocation;
  /** What the imported record says the backup is: the backend's metadata must agree. */
  readonly expected: ExpectedBackup;
  readonly projectId: string;
  readonly encryptionKeyId: string | null;
}

export interface ImportSteps {
  begin(): Promise<ImportWork | undefined>;
  finished(objectCount: number, backend: { readonly driverName: string; readonly backendName: string }): Promise<void>;
  failed(reason: string, error?: unknown): Promise<void>;
}

export interface DeleteWork {
  /** Whether the backup's data is on the backend (a backup that never reached it, or whose objects another live row shares, has none to remove). */
  readonly location: BackupLocation | undefined;
  /** Whether a backend driver holds the data (`service` set): a down backend must refuse then. */
  readonly needsWorkingBackend: boolean;
}

export interface DeleteSteps {
  begin(): Promise<DeleteWork | undefined>;
  /** The backend is down and the backup has data on it (Cinder: `error_deleting`). */
  backendDown(): Promise<void>;
  finished(): Promise<void>;
  failed(reason: string, error?: unknown): Promise<void>;
}

/** Start-up work the operations layer does for each backend (passed to `start`, not stored at construction). */
export interface BackendStartHooks {
  /** Reference 1.7: reset this host's operations that a previous process left half done. */
  cleanupIncompleteOperations(serviceHost: string): Promise<void>;
  /** After every successful setup (e.g. resume deletes a crash left `deleting`). */
  onWorking(serviceHost: string): void;
}

interface RunningOperation {
  readonly controller: AbortController;
  readonly done: Promise<unknown>;
  readonly backupId: string | undefined;
}

export interface BackupManagerOptions {
  readonly config: ServiceConfig;
  readonly store: Store;
  readonly notifier: Notifier;
  readonly logger: Logger;
  readonly backends: readonly LoadedBackend[];
  /** Operation counts, durations and bytes moved; none when omitted (tests). */
  readonly metrics?: ServiceMetrics | undefined;
  /** Master keys of the backends that encrypt, by backend index. */
  readonly masterKeys?: ReadonlyMap<number, MasterKeys> | undefined;
}

const OUTCOME_LABEL: Record<ExecutionOutcome['kind'], OperationOutcome> = {
  done: 'done',
  failed: 'failed',
  'storage-unreachable': 'storage_unreachable',
  skipped: 'skipped',
};

export class BackupManager {
  readonly backends = new Map<string, BackendRuntime>();
  readonly #config: ServiceConfig;
  readonly #store: Store;
  readonly #notifier: Notifier;
  readonly #logger: Logger;
  readonly #limiter: OperationLimiter;
  readonly #running = new Set<RunningOperation>();
  readonly #metrics: ServiceMetrics | undefined;
  /** Live progress of every operation this process runs (the Stowage operations resource, the status page). */
  readonly progress = new ProgressTracker();
  #hooks: BackendStartHooks | undefined;
  #accepting = true;
  readonly #masterKeys: ReadonlyMap<number, MasterKeys>;

  constructor(options: BackupManagerOptions) {
    this.#config = options.config;
    this.#store = options.store;
    this.#notifier = options.notifier;
    this.#logger = options.logger;
    this.#limiter = new OperationLimiter(options.config.maxOperations);
    this.#metrics = options.metrics;
    this.#masterKeys = options.masterKeys ?? new Map();
    for (const loaded of options.backends) this.#addBackend(loaded);
  }

  #addBackend(loaded: LoadedBackend): void {
    const config = this.#config;
    const name = loaded.config.name;
    const serviceHost = `${config.host}@${name}`;
    const driver = loaded.plugin.create(loaded.options, {
      backendName: name,
      statePath: `${config.statePath}/backends/${name}`,
      logger: {
        info: (message, fields) => this.#logger.info({ backend: name, ...fields }, message),
        warn: (message, fields) => this.#logger.warn({ backend: name, ...fields }, message),
        error: (message, fields) => this.#logger.error({ backend: name, ...fields }, message),
      },
    });
    const engine = new BackupEngine({ driver, backendName: name, compression: { algorithm: config.compression } });
    const masters = this.#masterKeys.get(loaded.index);
    const keys = masters === undefined ? undefined : new ProjectKeyStore(driver, name, masters);
    const store = this.#store;
    const lifecycle = new BackendLifecycle({
      serviceHost,
      backendName: name,
      driverName: loaded.plugin.name,
      driver,
      notifier: this.#notifier,
      reportIntervalMs: config.reportIntervalMs,
      periodicIntervalMs: config.periodicIntervalMs,
      initializationTimeoutMs: config.initializationTimeoutMs,
      periodicInitialization: config.periodicInitialization,
      logger: this.#logger,
      hooks: {
        cleanupIncompleteOperations: async () => this.#hooks?.cleanupIncompleteOperations(serviceHost),
        reportHeartbeat: () => store.heartbeat(serviceHost),
        reportState: (state, failure) =>
          store.setBackendState(serviceHost, state, failure ? `${failure.code}: ${failure.message}` : null),
        onWorking: () => this.#hooks?.onWorking(serviceHost),
      },
    });
    this.backends.set(serviceHost, {
      name,
      serviceHost,
      availabilityZone: loaded.config.availability_zone ?? config.storageAvailabilityZone,
      plugin: loaded.plugin,
      packageName: loaded.config.driver,
      driver,
      engine,
      lifecycle,
      keys,
    });
  }

  /** `package@version` of the driver behind a backend name, for export records. */
  packageOf(backendName: string | null): string | undefined {
    for (const runtime of this.backends.values()) {
      if (runtime.name === backendName) return `${runtime.packageName}@${runtime.plugin.version}`;
    }
    return undefined;
  }

  /** Whether `serviceHost` is one of this process's backends and it can take work now (placement's `HostReach`). */
  serves(serviceHost: string): boolean {
    return this.#accepting && (this.backends.get(serviceHost)?.lifecycle.isWorking() ?? false);
  }

  /** Whether `serviceHost` is one of this process's backends (placement's `HostReach`). */
  isLocal(serviceHost: string): boolean {
    return this.backends.has(serviceHost);
  }

  /** This process's backends that can take work now. */
  workingHosts(): string[] {
    return [...this.backends.keys()].filter((host) => this.serves(host));
  }

  get accepting(): boolean {
    return this.#accepting;
  }

  /** Register every backend in `services`, then run each backend's initHost (cleanup through `hooks`, then setup). */
  async start(hooks: BackendStartHooks): Promise<void> {
    this.#hooks = hooks;
    for (const runtime of this.backends.values()) {
      await this.#store.registerService({
        host: runtime.serviceHost,
        availabilityZone: runtime.availabilityZone,
        driverName: runtime.plugin.name,
        driverPackage: `${runtime.packageName}@${runtime.plugin.version}`,
      });
    }
    await Promise.all([...this.backends.values()].map((runtime) => runtime.lifecycle.initHost()));
  }

  /**
   * Run `work` as a tracked operation (shutdown waits for it, then aborts it; force delete aborts it), with its
   * live progress and, once it ends, its outcome and duration in the metrics.
   */
  #track(
    backupId: string,
    kind: OperationKind,
    serviceHost: string,
    work: (signal: AbortSignal, progress: TrackedOperation) => Promise<ExecutionOutcome>,
  ): Promise<ExecutionOutcome> {
    const controller = new AbortController();
    let operation: RunningOperation | undefined;
    const progress = this.progress.begin(backupId, kind, serviceHost, this.backends.get(serviceHost)?.name ?? serviceHost);
    const done = work(controller.signal, progress)
      .catch((error: unknown): ExecutionOutcome => {
        this.#logger.error({ backup: backupId, err: describeError(error) }, 'backup operation failed unexpectedly');
        return { kind: 'failed', reason: describeError(error) };
      })
      .then((outcome) => {
        this.progress.end(progress, outcome.kind === 'failed' ? outcome.reason : undefined);
        this.#metrics?.operationFinished(progress.kind, OUTCOME_LABEL[outcome.kind], (Date.now() - progress.startedAt) / 1000);
        return outcome;
      })
      .finally(() => {
        if (operation) this.#running.delete(operation);
      });
    operation = { controller, backupId, done };
    this.#running.add(operation);
    return done;
  }

  #runtime(serviceHost: string): BackendRuntime {
    const runtime = this.backends.get(serviceHost);
    if (!runtime) throw new Error(`no backend ${serviceHost} in this process`);
    return runtime;
  }

  /**
   * Run a create on `serviceHost` (placement chose it and the backup's host is claimed). Under
   * backup_max_operations; the storage is checked first, as the spec asks, so unreachable storage is reported
   * before anything is written.
   */
  createBackup(serviceHost: string, backupId: string, steps: CreateSteps): Promise<ExecutionOutcome> {
    return this.#track(backupId, 'create', serviceHost, async (signal, progress) => {
      const runtime = this.#runtime(serviceHost);
      try {
        return await this.#limiter.run(() => this.#runCreate(runtime, steps, signal, progress));
      } catch (error) {
        // The limiter closed while waiting: the service is stopping before the create started.
        const reason = `the backup service on ${serviceHost} stopped before the backup started; create it again`;
        await steps.failed(reason, error);
        return { kind: 'failed', reason };
      }
    });
  }

  async #runCreate(runtime: BackendRuntime, steps: CreateSteps, signal: AbortSignal, progress: TrackedOperation): Promise<ExecutionOutcome> {
    progress.enter('checking');
    const work = await steps.begin();
    if (!work) return { kind: 'skipped' };
    if (work.parent) progress.kind = 'incremental';
    // The spec's check before each create, the same check every heartbeat runs (unreachable: backend down).
    const unreachable = await runtime.lifecycle.checkStorage();
    if (unreachable) return { kind: 'storage-unreachable', reason: unreachable };

    const location: CreateLocation = {
      container: work.container ?? runtime.driver.defaultContainer,
      prefix: defaultBackupPrefix(work.volumeId, work.backupId),
      driverName: runtime.plugin.name,
      backendName: runtime.name,
      availabilityZone: runtime.availabilityZone,
    };
    const volume = await steps.started(location);
    if (!volume) return { kind: 'skipped' };

    let encryption: ObjectEncryption | undefined;
    try {
      encryption = await this.#createKey(runtime, work);
    } catch (error) {
      const reason = describeError(error);
      await steps.failed(reason, error);
      return { kind: 'failed', reason };
    }
    const source = await openVolumeFile(volume.path);
    let lastDecile = 0;
    const bytes = this.#metrics?.bytesCounters(runtime.name);
    let readCounted = 0;
    let storedCounted = 0;
    progress.enter('transferring');
    try {
      const result = await runtime.engine.backup({
        backupId: work.backupId,
        volumeId: work.volumeId,
        container: location.container,
        prefix: location.prefix,
        source,
        signal,
        parent: work.parent,
        encryption,
        extra: { volume_size_gib: volume.sizeGiB, volume_metadata: volume.metadata },
        onProgress: ({ bytesDone, bytesTotal, bytesStored = 0 }) => {
          // Once per chunk: counters take the difference, the tracker the running totals.
          progress.update(bytesDone, bytesTotal);
          if (bytes) {
            bytes.read.inc(bytesDone - readCounted);
            bytes.stored.inc(bytesStored - storedCounted);
            readCounted = bytesDone;
            storedCounted = bytesStored;
          }
          const percent = bytesTotal === 0 ? 100 : Math.floor((bytesDone * 100) / bytesTotal);
          if (Math.floor(percent / 10) > lastDecile) {
            lastDecile = Math.floor(percent / 10);
            steps.progress(percent);
          }
        },
      });
      progress.enter('finishing');
      // Metadata and digest segments written after the last chunk.
      bytes?.stored.inc(Math.max(0, result.storedBytes - storedCounted));
      await steps.finished(result);
      this.#logger.info({ backup: work.backupId, host: runtime.serviceHost, objects: result.objectCount, storedBytes: result.storedBytes }, 'backup created');
      return { kind: 'done' };
    } catch (error) {
      const reason = signal.aborted
        ? `the backup service on ${runtime.serviceHost} stopped while the backup was running; its partial data was removed, create it again`
        : describeError(error);
      await steps.failed(reason, error);
      return { kind: 'failed', reason };
    } finally {
      await source.close();
    }
  }

  /**
   * The data key a create uses: an incremental keeps its parent's (plain stays plain), a full backup on an
   * encrypting backend takes its project's current key.
   */
  async #createKey(runtime: BackendRuntime, work: CreateWork): Promise<ObjectEncryption | undefined> {
    if (work.parent !== undefined) {
      if (work.parentEncryptionKeyId === null) {
        if (runtime.keys !== undefined) {
          throw new InvalidBackupError(`backend ${runtime.name} encrypts its backups, and the parent backup is not encrypted: an incremental cannot mix the two, take a full backup`);
        }
        return undefined;
      }
      if (runtime.keys === undefined) {
        throw new EncryptionKeyError(
          `the parent backup is encrypted with data key ${work.parentEncryptionKeyId}, and backend ${runtime.name} has no encryption configured: configure its encryption master key`,
          work.parentEncryptionKeyId,
        );
      }
      return runtime.keys.key(work.projectId, work.parentEncryptionKeyId);
    }
    return runtime.keys?.keyForNewBackup(work.projectId);
  }

  /** The data key a restore or import of an encrypted backup needs (undefined for a plain one). */
  async #backupKey(runtime: BackendRuntime, projectId: string, keyId: string | null): Promise<ObjectEncryption | undefined> {
    if (keyId === null) return undefined;
    if (runtime.keys === undefined) {
      throw new EncryptionKeyError(
        `the backup is encrypted with data key ${keyId}, and backend ${runtime.name} has no encryption configured: configure the master key that wraps it`,
        keyId,
      );
    }
    return runtime.keys.key(projectId, keyId);
  }

  /** Abort a create of `backupId` running (or queued) here, and wait until it has settled. */
  async abortCreate(backupId: string): Promise<void> {
    const running = [...this.#running].filter((operation) => operation.backupId === backupId);
    for (const operation of running) operation.controller.abort(new Error('backup force-deleted'));
    await Promise.allSettled(running.map((operation) => operation.done));
  }

  /**
   * Run a restore on `serviceHost` under backup_max_operations (reference 2.3, Cinder's limit_operations; not
   * gated on the backend's is_working, as Cinder).
   */
  restoreBackup(serviceHost: string, backupId: string, steps: RestoreSteps): Promise<ExecutionOutcome> {
    return this.#track(backupId, 'restore', serviceHost, async (signal, progress) => {
      const runtime = this.#runtime(serviceHost);
      try {
        return await this.#limiter.run(() => this.#runRestore(runtime, steps, signal, progress));
      } catch (error) {
        const reason = `the backup service on ${serviceHost} stopped before the restore started`;
        await steps.failed(reason, error);
        return { kind: 'failed', reason };
      }
    });
  }

  async #runRestore(runtime: BackendRuntime, steps: RestoreSteps, signal: AbortSignal, progress: TrackedOperation): Promise<ExecutionOutcome> {
    progress.enter('checking');
    const work = await steps.begin();
    if (!work) return { kind: 'skipped' };
    const target = await openRestoreFile(work.volumePath);
    const restored = this.#metrics?.bytesCounters(runtime.name).restored;
    let counted = 0;
    try {
      const encryption = await this.#backupKey(runtime, work.projectId, work.encryptionKeyId);
      const metadata = await runtime.engine.readMetadata(work.location, signal, work.expected, encryption);
      progress.enter('transferring');
      // The engine verifies every block's sha256. The volume file keeps its own (possibly larger) size.
      const result = await runtime.engine.restore({
        ...work.location,
        target,
        signal,
        expected: work.expected,
        encryption,
        onProgress: ({ bytesDone, bytesTotal }) => {
          progress.update(bytesDone, bytesTotal);
          restored?.inc(bytesDone - counted);
          counted = bytesDone;
        },
      });
      progress.enter('finishing');
      await steps.finished(result, metadata.extra.volume_metadata);
      return { kind: 'done' };
    } catch (error) {
      const reason = signal.aborted ? `the backup service on ${runtime.serviceHost} stopped during the restore` : describeError(error);
      await steps.failed(reason, error);
      return { kind: 'failed', reason };
    } finally {
      await target.close();
    }
  }

  /**
   * Verify an imported backup on `serviceHost`: its metadata object must exist on the backend, parse, and agree
   * with the record (backup id, volume id, size).
   */
  importBackup(serviceHost: string, backupId: string, steps: ImportSteps): Promise<ExecutionOutcome> {
    return this.#track(backupId, 'import', serviceHost, async (signal, progress) => {
      const runtime = this.backends.get(serviceHost);
      const work = runtime ? await steps.begin() : undefined;
      if (!runtime || !work) return { kind: 'skipped' };
      progress.enter('transferring');
      try {
        const encryption = await this.#backupKey(runtime, work.projectId, work.encryptionKeyId);
        const metadata = await runtime.engine.readMetadata(work.location, signal, work.expected, encryption);
        await steps.finished(metadata.objects.length, { driverName: runtime.plugin.name, backendName: runtime.name });
        this.#logger.info({ backup: backupId, host: serviceHost }, 'backup imported');
        return { kind: 'done' };
      } catch (error) {
        const reason = `import failed: the backup's metadata on backend ${runtime.name} could not be read or does not match the record: ${describeError(error)}`;
        await steps.failed(reason, error);
        return { kind: 'failed', reason };
      }
    });
  }

  /** Delete a backup's data on `serviceHost` (the row is `deleting` on that host). */
  deleteBackup(serviceHost: string, backupId: string, steps: DeleteSteps): Promise<ExecutionOutcome> {
    return this.#track(backupId, 'delete', serviceHost, async (signal, progress) => {
      const runtime = this.backends.get(serviceHost);
      const work = runtime ? await steps.begin() : undefined;
      if (!runtime || !work) return { kind: 'skipped' };
      progress.enter('transferring');
      if (work.needsWorkingBackend && !runtime.lifecycle.isWorking()) {
        await steps.backendDown();
        return { kind: 'failed', reason: 'backend down' };
      }
      try {
        if (work.location) await runtime.engine.delete(work.location, signal);
      } catch (error) {
        const reason = AbortedError.isInstance(error) || signal.aborted
          ? `the backup service on ${serviceHost} stopped during the delete; delete it again`
          : `delete failed on backend ${runtime.name}: ${describeError(error)}`;
        await steps.failed(reason, error);
        return { kind: 'failed', reason };
      }
      await steps.finished();
      return { kind: 'done' };
    });
  }

  /**
   * Stop accepting work, let running operations finish for up to `graceMs`, then abort the rest (each leaves
   * a correct status: an aborted create is `error` with its partial data removed), and stop every backend.
   */
  async stop(graceMs: number): Promise<{ finished: number; aborted: number }> {
    this.#accepting = false;
    this.#limiter.close();
    const initial = this.#running.size;
    await Promise.race([Promise.allSettled([...this.#running].map((op) => op.done)), delay(graceMs)]);
    const aborted = this.#running.size;
    for (const operation of this.#running) operation.controller.abort(new Error('service stopping'));
    await Promise.allSettled([...this.#running].map((op) => op.done));
    await Promise.all([...this.backends.values()].map(async (runtime) => {
      await runtime.lifecycle.stop();
      await runtime.driver.close?.().catch(() => undefined);
    }));
    return { finished: initial - aborted, aborted };
  }

  /** Operations in flight (for tests and logs). */
  get runningOperations(): number {
    return this.#running.size;
  }

  /** Creates and restores holding a `backup_max_operations` slot, and those waiting for one. */
  get load(): { readonly running: number; readonly queued: number } {
    return { running: this.#limiter.active, queued: this.#limiter.waiting };
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
