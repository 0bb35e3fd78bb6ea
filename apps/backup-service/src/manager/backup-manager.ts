/**
 * The backup manager of one process: one `BackendLifecycle` (core) and one `BackupEngine` per configured
 * backend, the create/delete operations that run on those backends, start-up cleanup and shutdown.
 */
import {
  AbortedError,
  BackendLifecycle,
  BackupEngine,
  BackupEvents,
  OperationLimiter,
  defaultBackupPrefix,
  describeError,
  openRestoreFile,
  openVolumeFile,
  runWithTimeout,
  type DriverPlugin,
  type Notifier,
  type StorageDriver,
} from '@stowage/core';
import type { Logger } from 'pino';
import type { ServiceConfig } from '../config/load-config.js';
import type { Store } from '../db/store.js';
import type { BackupRow } from '../db/tables.js';
import { backupUsagePayload } from '../notifications/backup-payload.js';
import type { LoadedBackend } from '../plugins/plugin-loader.js';

export const INCOMPLETE_BACKUP_REASON = 'incomplete backup reset on manager restart';

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
}

/** One host the scheduler tried for a create, and why it could not take it. */
export interface SchedulingAttempt {
  readonly host: string;
  readonly reason: string;
}

/** What the manager needs from the scheduler (set after construction: the two call each other). */
export interface Rescheduler {
  scheduleCreate(backupId: string, tried: readonly SchedulingAttempt[]): Promise<void>;
}

interface RunningOperation {
  readonly controller: AbortController;
  readonly done: Promise<void>;
  readonly backupId: string | undefined;
}

/** Volume statuses a restore writes into: an existing volume, or one being created from the backup (3.47). */
const RESTORE_TARGET_STATUSES = ['restoring-backup', 'creating'];

/** Cinder's usage event types this manager sends beyond core's `BackupEvents`. */
export const RESET_STATUS_START = 'backup.reset_status.start';
export const RESET_STATUS_END = 'backup.reset_status.end';

export interface BackupManagerOptions {
  readonly config: ServiceConfig;
  readonly store: Store;
  readonly notifier: Notifier;
  readonly logger: Logger;
  readonly backends: readonly LoadedBackend[];
}

export class BackupManager {
  readonly backends = new Map<string, BackendRuntime>();
  readonly #config: ServiceConfig;
  readonly #store: Store;
  readonly #notifier: Notifier;
  readonly #logger: Logger;
  readonly #limiter: OperationLimiter;
  readonly #running = new Set<RunningOperation>();
  #rescheduler: Rescheduler | undefined;
  #accepting = true;

  constructor(options: BackupManagerOptions) {
    this.#config = options.config;
    this.#store = options.store;
    this.#notifier = options.notifier;
    this.#logger = options.logger;
    this.#limiter = new OperationLimiter(options.config.maxOperations);
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
        cleanupIncompleteOperations: () => this.#cleanupIncompleteOperations(serviceHost),
        reportHeartbeat: () => store.heartbeat(serviceHost),
        reportState: (state, failure) =>
          store.setBackendState(serviceHost, state, failure ? `${failure.code}: ${failure.message}` : null),
        onWorking: () => void this.#resumeDeletes(serviceHost),
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
    });
  }

  /** Send a usage notification (the API's reset_status events). */
  notify(eventType: string, payload: object): void {
    this.#notifier.notify(eventType, payload);
  }

  /** `package@version` of the driver behind a backend name, for export records. */
  packageOf(backendName: string | null): string | undefined {
    for (const runtime of this.backends.values()) {
      if (runtime.name === backendName) return `${runtime.packageName}@${runtime.plugin.version}`;
    }
    return undefined;
  }

  setRescheduler(rescheduler: Rescheduler): void {
    this.#rescheduler = rescheduler;
  }

  /** Whether `serviceHost` is one of this process's backends and it can take work now. */
  serves(serviceHost: string): boolean {
    return this.#accepting && (this.backends.get(serviceHost)?.lifecycle.isWorking() ?? false);
  }

  get accepting(): boolean {
    return this.#accepting;
  }

  /** Register every backend in `services`, then run each backend's initHost (cleanup, then setup). */
  async start(): Promise<void> {
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

  /** Reference 1.7: reset this host's operations that a previous process left half done. */
  async #cleanupIncompleteOperations(serviceHost: string): Promise<void> {
    const backups = await this.#store.backupsOnHost(serviceHost, ['creating', 'restoring', 'deleting']);
    for (const backup of backups) {
      try {
        if (backup.status === 'creating') {
          await this.#store.restoreVolumeAfterBackup(backup.volume_id);
          await this.#store.updateBackup(backup.id, { status: 'error', fail_reason: INCOMPLETE_BACKUP_REASON }, { status: ['creating'] });
        } else if (backup.status === 'restoring') {
          if (backup.restore_volume_id) {
            await this.#store.transitionVolume(backup.restore_volume_id, ['restoring-backup'], { status: 'error_restoring' });
            // A volume being created from the backup (3.47) ends `error`, as Cinder's creating volumes do.
            await this.#store.transitionVolume(backup.restore_volume_id, ['creating'], { status: 'error' });
          }
          await this.#store.updateBackup(backup.id, { status: 'available' }, { status: ['restoring'] });
        } else if (backup.encryption_key_id) {
          await this.#store.updateBackup(backup.id, { status: 'error_deleting' }, { status: ['deleting'] });
        }
        // Plain `deleting` backups resume once the driver is set up (#resumeDeletes).
        this.#logger.info({ backup: backup.id, status: backup.status, host: serviceHost }, 'cleaned up incomplete backup operation');
      } catch (error) {
        this.#logger.error({ backup: backup.id, err: describeError(error) }, 'cleaning up an incomplete backup operation failed');
      }
    }
  }

  async #resumeDeletes(serviceHost: string): Promise<void> {
    try {
      for (const backup of await this.#store.backupsOnHost(serviceHost, ['deleting'])) this.deleteBackup(serviceHost, backup.id);
    } catch (error) {
      this.#logger.error({ host: serviceHost, err: describeError(error) }, 'resuming interrupted deletes failed');
    }
  }

  /** Run `work` as a tracked operation (shutdown waits for it, then aborts it). */
  #track(work: (signal: AbortSignal) => Promise<void>, backupId?: string): void {
    const controller = new AbortController();
    const operation: RunningOperation = {
      controller,
      backupId,
      done: work(controller.signal)
        .catch((error: unknown) => this.#logger.error({ err: describeError(error) }, 'backup operation failed unexpectedly'))
        .finally(() => this.#running.delete(operation)),
    };
    this.#running.add(operation);
  }

  /** Start a create on `serviceHost` (the scheduler has set the backup's host). Returns at once. */
  createBackup(serviceHost: string, backupId: string, tried: readonly SchedulingAttempt[]): void {
    this.#track((signal) => this.#createBackup(serviceHost, backupId, tried, signal), backupId);
  }

  async #createBackup(serviceHost: string, backupId: string, tried: readonly SchedulingAttempt[], signal: AbortSignal): Promise<void> {
    const runtime = this.backends.get(serviceHost);
    if (!runtime) throw new Error(`no backend ${serviceHost} in this process`);
    let reschedule: SchedulingAttempt | undefined;
    try {
      await this.#limiter.run(async () => {
        reschedule = await this.#runCreate(runtime, backupId, signal);
      });
    } catch (error) {
      // The limiter closed while waiting: the service is stopping before the create started.
      await this.#failCreate(backupId, `the backup service on ${serviceHost} stopped before the backup started; create it again`, error);
      return;
    }
    if (reschedule) {
      await this.#rescheduler?.scheduleCreate(backupId, [...tried, reschedule]);
    }
  }

  /** The create itself; returns a scheduling attempt when the backup must go to another host. */
  async #runCreate(runtime: BackendRuntime, backupId: string, signal: AbortSignal): Promise<SchedulingAttempt | undefined> {
    const backup = await this.#store.getBackup(backupId);
    if (!backup || backup.status !== 'creating' || backup.host !== runtime.serviceHost) return undefined;
    this.#notifier.notify(BackupEvents.createStart, backupUsagePayload(backup));

    // The spec's check before each create: unreachable storage sends the backup elsewhere.
    const unreachable = await this.#checkStorage(runtime);
    if (unreachable) {
      await this.#store.updateBackup(backupId, { host: null }, { status: ['creating'], host: runtime.serviceHost });
      return { host: runtime.serviceHost, reason: unreachable };
    }

    const volume = await this.#store.getVolume(backup.volume_id);
    if (!volume || volume.status !== 'backing-up') {
      await this.#failCreate(backupId, `Invalid volume: volume ${backup.volume_id} is ${volume?.status ?? 'gone'}, expected backing-up`);
      return undefined;
    }
    const parent = backup.parent_id ? await this.#store.getBackup(backup.parent_id) : undefined;
    const container = backup.container ?? runtime.driver.defaultContainer;
    const prefix = defaultBackupPrefix(backup.volume_id, backup.id);
    await this.#store.updateBackup(
      backupId,
      { service: runtime.plugin.name, backend_name: runtime.name, container, service_metadata: prefix, availability_zone: backup.availability_zone ?? runtime.availabilityZone },
      { status: ['creating'] },
    );

    const source = await openVolumeFile(volume.path);
    let lastDecile = 0;
    try {
      const result = await runtime.engine.backup({
        backupId,
        volumeId: backup.volume_id,
        container,
        prefix,
        source,
        signal,
        parent: parent?.container && parent.service_metadata ? { container: parent.container, prefix: parent.service_metadata } : undefined,
        extra: { volume_size_gib: volume.size, volume_metadata: parseObject(volume.metadata) },
        onProgress: ({ bytesDone, bytesTotal }) => {
          const percent = bytesTotal === 0 ? 100 : Math.floor((bytesDone * 100) / bytesTotal);
          if (Math.floor(percent / 10) > lastDecile) {
            lastDecile = Math.floor(percent / 10);
            void this.#notifyProgress(backupId, percent);
          }
        },
      });
      const finished = await this.#store.updateBackup(
        backupId,
        { status: 'available', size: volume.size, object_count: result.objectCount, fail_reason: null },
        { status: ['creating'] },
      );
      await this.#store.restoreVolumeAfterBackup(backup.volume_id);
      if (!finished) return undefined; // deleted or reset meanwhile: Cinder leaves such a backup as it is
      if (backup.parent_id) await this.#store.adjustDependentCount(backup.parent_id, 1);
      const done = await this.#store.getBackup(backupId);
      if (done) this.#notifier.notify(BackupEvents.createEnd, backupUsagePayload(done));
      this.#logger.info({ backup: backupId, host: runtime.serviceHost, objects: result.objectCount, storedBytes: result.storedBytes }, 'backup created');
    } catch (error) {
      const reason = signal.aborted
        ? `the backup service on ${runtime.serviceHost} stopped while the backup was running; its partial data was removed, create it again`
        : describeError(error);
      await this.#failCreate(backupId, reason, error);
    } finally {
      await source.close();
    }
    return undefined;
  }

  /** Undefined when the backend can take work; otherwise why not (and the backend is now marked down). */
  async #checkStorage(runtime: BackendRuntime): Promise<string | undefined> {
    if (!runtime.lifecycle.isWorking()) {
      return `backend not working (${runtime.lifecycle.status.lastFailure?.message ?? 'driver not initialised'})`;
    }
    try {
      await runWithTimeout(`checkAvailable of backend ${runtime.name}`, Math.min(this.#config.initializationTimeoutMs, 30_000), (signal) =>
        runtime.driver.checkAvailable({ signal }),
      );
      return undefined;
    } catch (error) {
      runtime.lifecycle.markNotWorking(error);
      return `storage unreachable: ${describeError(error)}`;
    }
  }

  async #notifyProgress(backupId: string, percent: number): Promise<void> {
    const backup = await this.#store.getBackup(backupId).catch(() => undefined);
    if (backup) this.#notifier.notify(BackupEvents.createProgress, { ...backupUsagePayload(backup), backup_percent: percent });
  }

  async #failCreate(backupId: string, reason: string, error?: unknown): Promise<void> {
    const backup = await this.#store.getBackup(backupId);
    if (!backup) return;
    await this.#store.restoreVolumeAfterBackup(backup.volume_id);
    await this.#store.updateBackup(backupId, { status: 'error', fail_reason: reason }, { status: ['creating'] });
    this.#logger.error({ backup: backupId, reason, err: error === undefined ? undefined : describeError(error) }, 'backup failed');
  }

  /** Start a delete on `serviceHost` (the API set the backup to `deleting` on that host). Returns at once. */
  deleteBackup(serviceHost: string, backupId: string): void {
    this.#track((signal) => this.#deleteBackup(serviceHost, backupId, signal), backupId);
  }

  /**
   * Force delete (admin): a create of this backup running here is aborted first (its partial data is removed and
   * it ends without touching the `deleting` status), then the delete runs. Returns at once.
   */
  forceDeleteBackup(serviceHost: string, backupId: string): void {
    const running = [...this.#running].filter((operation) => operation.backupId === backupId);
    for (const operation of running) operation.controller.abort(new Error('backup force-deleted'));
    void Promise.allSettled(running.map((operation) => operation.done)).then(() => this.deleteBackup(serviceHost, backupId));
  }

  /**
   * Start a restore on `serviceHost` (the API set the backup `restoring` and the volume `restoring-backup`, or
   * `creating` for a volume created from the backup at 3.47).
   */
  restoreBackup(serviceHost: string, backupId: string, volumeId: string): void {
    this.#track(async (signal) => {
      const runtime = this.backends.get(serviceHost);
      if (!runtime) throw new Error(`no backend ${serviceHost} in this process`);
      try {
        // backup_max_operations bounds restores (reference 2.3, Cinder's limit_operations).
        await this.#limiter.run(() => this.#runRestore(runtime, backupId, volumeId, signal));
      } catch (error) {
        await this.#failRestore(backupId, volumeId, `the backup service on ${serviceHost} stopped before the restore started`, error);
      }
    }, backupId);
  }

  async #runRestore(runtime: BackendRuntime, backupId: string, volumeId: string, signal: AbortSignal): Promise<void> {
    const backup = await this.#store.getBackup(backupId);
    if (!backup || backup.status !== 'restoring' || backup.restore_volume_id !== volumeId) return;
    this.#notifier.notify(BackupEvents.restoreStart, backupUsagePayload(backup));
    const volume = await this.#store.getVolume(volumeId);
    // Reference 2.3, manager step 2: the target must still be restoring-backup (or creating).
    if (!volume || !RESTORE_TARGET_STATUSES.includes(volume.status)) {
      await this.#store.updateBackup(backupId, { status: 'available', restore_volume_id: null }, { status: ['restoring'] });
      if (volume) await this.#store.transitionVolume(volumeId, [volume.status], { status: 'error' });
      this.#logger.error({ backup: backupId, volume: volumeId, status: volume?.status }, 'restore target is not restoring-backup');
      return;
    }
    if (!backup.container || !backup.service_metadata) {
      await this.#failRestore(backupId, volumeId, `backup ${backupId} has no data location`);
      return;
    }
    const location = { container: backup.container, prefix: backup.service_metadata };
    const target = await openRestoreFile(volume.path);
    try {
      const metadata = await runtime.engine.readMetadata(location, signal);
      const result = await runtime.engine.restore({ ...location, target, signal });
      // The engine verified every block's sha256. The volume file keeps its own (possibly larger) size.
      const sourceMetadata = metadata.extra.volume_metadata;
      const merged = {
        ...(typeof sourceMetadata === 'object' && sourceMetadata !== null ? (sourceMetadata as Record<string, unknown>) : {}),
        ...parseObject(volume.metadata),
        src_backup_id: backupId,
      };
      await this.#store.updateVolume(volumeId, { metadata: JSON.stringify(merged) });
      await this.#store.transitionVolume(volumeId, RESTORE_TARGET_STATUSES, { status: 'available' });
      await this.#store.updateBackup(backupId, { status: 'available', restore_volume_id: null }, { status: ['restoring'] });
      const done = await this.#store.getBackup(backupId);
      if (done) this.#notifier.notify(BackupEvents.restoreEnd, { ...backupUsagePayload(done), volume_id: volumeId });
      this.#logger.info({ backup: backupId, volume: volumeId, chain: result.chain, bytesWritten: result.bytesWritten }, 'backup restored');
    } catch (error) {
      const reason = signal.aborted ? `the backup service on ${runtime.serviceHost} stopped during the restore` : describeError(error);
      await this.#failRestore(backupId, volumeId, reason, error);
    } finally {
      await target.close();
    }
  }

  /** Cinder's restore failure: the volume `error_restoring` (`error` if it was being created), the backup `available`. */
  async #failRestore(backupId: string, volumeId: string, reason: string, error?: unknown): Promise<void> {
    await this.#store.transitionVolume(volumeId, ['restoring-backup'], { status: 'error_restoring' });
    await this.#store.transitionVolume(volumeId, ['creating'], { status: 'error' });
    await this.#store.updateBackup(backupId, { status: 'available', restore_volume_id: null }, { status: ['restoring'] });
    this.#logger.error({ backup: backupId, volume: volumeId, reason, err: error === undefined ? undefined : describeError(error) }, 'restore failed');
  }

  /**
   * Finish an import on `serviceHost`: the backup's metadata object must exist on the backend (and parse) before
   * the backup becomes `available`; otherwise it ends `error` with the reason.
   */
  importBackup(serviceHost: string, backupId: string): void {
    this.#track(async (signal) => {
      const runtime = this.backends.get(serviceHost);
      const backup = await this.#store.getBackup(backupId);
      if (!runtime || !backup || backup.status !== 'creating' || !backup.container || !backup.service_metadata) return;
      try {
        const metadata = await runtime.engine.readMetadata({ container: backup.container, prefix: backup.service_metadata }, signal);
        await this.#store.updateBackup(
          backupId,
          { status: 'available', object_count: metadata.objects.length, fail_reason: null, service: runtime.plugin.name, backend_name: runtime.name },
          { status: ['creating'] },
        );
        this.#logger.info({ backup: backupId, host: serviceHost }, 'backup imported');
      } catch (error) {
        const reason = `import failed: the backup's metadata could not be read on backend ${runtime.name}: ${describeError(error)}`;
        // service stays empty: the row never owned data, so deleting it must not touch the backend.
        await this.#store.updateBackup(backupId, { status: 'error', fail_reason: reason, service: null }, { status: ['creating'] });
        this.#logger.error({ backup: backupId, reason }, 'backup import failed');
      }
    }, backupId);
  }

  async #deleteBackup(serviceHost: string, backupId: string, signal: AbortSignal): Promise<void> {
    const runtime = this.backends.get(serviceHost);
    const backup = await this.#store.getBackup(backupId);
    if (!runtime || !backup || backup.status !== 'deleting') return;
    this.#notifier.notify(BackupEvents.deleteStart, backupUsagePayload(backup));
    if (backup.service && !runtime.lifecycle.isWorking()) {
      await this.#store.updateBackup(
        backupId,
        { status: 'error_deleting', fail_reason: 'Delete backup is aborted due to backup service is down.' },
        { status: ['deleting'] },
      );
      return;
    }
    try {
      // An imported copy of the same objects (export, then import with a new id) keeps them alive.
      const shared = (await this.#store.countSharingData(backup)) > 0;
      if (backup.service && backup.container && backup.service_metadata && !shared) {
        await runtime.engine.delete({ container: backup.container, prefix: backup.service_metadata }, signal);
      }
    } catch (error) {
      const reason = AbortedError.isInstance(error) || signal.aborted
        ? `the backup service on ${serviceHost} stopped during the delete; delete it again`
        : `delete failed on backend ${runtime.name}: ${describeError(error)}`;
      await this.#store.updateBackup(backupId, { status: 'error', fail_reason: reason }, { status: ['deleting'] });
      this.#logger.error({ backup: backupId, reason }, 'backup delete failed');
      return;
    }
    await this.finishDelete(backup);
  }

  /** The bookkeeping after a backup's data is gone (also used by the API for backups that never had data). */
  async finishDelete(backup: BackupRow, options: { announceStart?: boolean } = {}): Promise<void> {
    if (options.announceStart) this.#notifier.notify(BackupEvents.deleteStart, backupUsagePayload(backup));
    if (!(await this.#store.softDeleteBackup(backup.id))) return;
    if (backup.parent_id) await this.#store.adjustDependentCount(backup.parent_id, -1);
    this.#notifier.notify(BackupEvents.deleteEnd, { ...backupUsagePayload(backup), status: 'deleted' });
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
}

function parseObject(text: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
