/**
 * The driver-initialisation lifecycle of one backend, as the spec "Backup driver initialization" describes it
 * and as upstream Cinder never finished it (reference section 0):
 *
 * - `initHost()` cleans up this host's incomplete operations, then runs the driver's `doSetup()` under
 *   `backup_initialization_timeout`; a hung setup counts as a failure.
 * - Success makes the backend working: heartbeats start (every `report_interval`) and `backup.init.end` is sent.
 * - Failure leaves it down and sends `backup.init.error`; with periodic initialisation on, setup is retried
 *   every `periodic_interval`, never two attempts at once, until it succeeds.
 * - Each heartbeat first runs the driver's `checkAvailable()`; storage found unreachable there, or during an
 *   operation (`markNotWorking()`), stops heartbeats and hands the backend back to periodic setup.
 */
import { StowageError, describeError, type StorageDriver } from '@stowage/driver-contract';
import { BackupEvents, type InitEndPayload, type InitErrorPayload, type InitStartPayload } from './init-events.js';
import type { Notifier } from './notifier.js';
import { OperationTimeoutError, runWithTimeout } from './timeout.js';

export type BackendState = 'initializing' | 'up' | 'down' | 'stopped';

/** Why a backend is not working, as reported to `os-services` and logs. */
export interface BackendFailure {
  readonly code: string;
  readonly message: string;
  readonly at: Date;
}

export interface BackendStatus {
  readonly state: BackendState;
  readonly attempt: number;
  readonly lastFailure: BackendFailure | null;
  readonly nextAttemptAt: Date | null;
  readonly lastHeartbeatAt: Date | null;
}

export interface LifecycleLogger {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}

export interface BackendLifecycleHooks {
  /** Reset this backend's incomplete operations (reference 1.7). Failures are logged; setup goes on. */
  cleanupIncompleteOperations(): Promise<void>;
  /** Record a heartbeat (Cinder's `report_state`). Called only while working. */
  reportHeartbeat(): Promise<void>;
  /** Persist the backend's state so every API process sees it (`down` at once, not after service_down_time). */
  reportState(state: BackendState, failure: BackendFailure | null): Promise<void>;
  /** Called after every successful setup (e.g. to resume deletes left `deleting` by a crash). Not awaited. */
  onWorking?(): void;
}

export interface BackendLifecycleOptions {
  /** `<host>@<backend>`, the service host in `os-services`. */
  readonly serviceHost: string;
  readonly backendName: string;
  readonly driverName: string;
  readonly driver: StorageDriver;
  readonly notifier: Notifier;
  readonly hooks: BackendLifecycleHooks;
  readonly reportIntervalMs: number;
  readonly periodicIntervalMs: number;
  readonly initializationTimeoutMs: number;
  readonly periodicInitialization: boolean;
  readonly logger?: LifecycleLogger | undefined;
}

/** Error code sent in `backup.init.error` when `doSetup` overran `backup_initialization_timeout`. */
export const SETUP_TIMEOUT_CODE = 'SETUP_TIMEOUT';
/** The longest a storage check (`checkAvailable`) may take, whatever the setup timeout. */
const CHECK_TIMEOUT_CAP_MS = 30_000;

export class BackendLifecycle {
  readonly serviceHost: string;
  readonly backendName: string;
  readonly driverName: string;
  readonly driver: StorageDriver;
  readonly #options: BackendLifecycleOptions;
  #state: BackendState = 'initializing';
  #attempt = 0;
  #lastFailure: BackendFailure | null = null;
  #nextAttemptAt: Date | null = null;
  #lastHeartbeatAt: Date | null = null;
  #setupInFlight: Promise<boolean> | null = null;
  #retryTimer: NodeJS.Timeout | null = null;
  #heartbeatTimer: NodeJS.Timeout | null = null;
  #heartbeatInFlight: Promise<void> | null = null;
  #checkInFlight: Promise<void> | null = null;
  readonly #stopController = new AbortController();

  constructor(options: BackendLifecycleOptions) {
    for (const key of ['reportIntervalMs', 'periodicIntervalMs', 'initializationTimeoutMs'] as const) {
      if (!(options[key] > 0)) throw new RangeError(`${key} must be > 0, got ${options[key]}`);
    }
    this.#options = options;
    this.serviceHost = options.serviceHost;
    this.backendName = options.backendName;
    this.driverName = options.driverName;
    this.driver = options.driver;
  }

  /** Cinder's `is_working()`: true only after a successful setup and until the storage is found unreachable. */
  isWorking(): boolean {
    return this.#state === 'up';
  }

  get status(): BackendStatus {
    return {
      state: this.#state,
      attempt: this.#attempt,
      lastFailure: this.#lastFailure,
      nextAttemptAt: this.#nextAttemptAt,
      lastHeartbeatAt: this.#lastHeartbeatAt,
    };
  }

  /**
   * Start-up: clean up, then the first setup attempt. Resolves once that attempt has finished (either way);
   * a failed backend keeps retrying in the background when periodic initialisation is on.
   */
  async initHost(): Promise<boolean> {
    try {
      await this.#options.hooks.cleanupIncompleteOperations();
    } catch (error) {
      this.#options.logger?.error(
        { backend: this.backendName, err: describeError(error) },
        'cleaning up incomplete backup operations failed; continuing with driver setup',
      );
    }
    await this.#persistState();
    return this.#attemptSetup();
  }

  /**
   * Run a setup attempt now (unless one is running: then join it). Used by `initHost` and the retry timer.
   * Resolves true when the backend is working afterwards.
   */
  #attemptSetup(): Promise<boolean> {
    if (this.#state === 'stopped') return Promise.resolve(false);
    if (this.#setupInFlight) return this.#setupInFlight;
    const attempt = this.#runSetup().finally(() => {
      this.#setupInFlight = null;
    });
    this.#setupInFlight = attempt;
    return attempt;
  }

  async #runSetup(): Promise<boolean> {
    this.#clearRetryTimer();
    this.#attempt += 1;
    const base: InitStartPayload = {
      host: this.serviceHost,
      backend: this.backendName,
      driver: this.driverName,
      attempt: this.#attempt,
    };
    this.#options.notifier.notify(BackupEvents.initStart, base);
    const started = performance.now();
    try {
      await runWithTimeout(
        `doSetup of backend ${this.backendName} (driver ${this.driverName})`,
        this.#options.initializationTimeoutMs,
        (signal) => this.driver.doSetup({ signal }),
        this.#stopController.signal,
      );
    } catch (error) {
      if (this.#state === 'stopped') return false;
      this.#fail(error, base, performance.now() - started);
      return false;
    }
    if (this.#state === 'stopped') return false;
    const durationMs = Math.round(performance.now() - started);
    this.#state = 'up';
    this.#lastFailure = null;
    this.#nextAttemptAt = null;
    const payload: InitEndPayload = { ...base, duration_ms: durationMs };
    this.#options.notifier.notify(BackupEvents.initEnd, payload);
    this.#options.logger?.info({ backend: this.backendName, attempt: base.attempt, durationMs }, 'backup driver initialised');
    await this.#persistState();
    this.#startHeartbeats();
    try {
      this.#options.hooks.onWorking?.();
    } catch (error) {
      this.#options.logger?.error({ backend: this.backendName, err: describeError(error) }, 'onWorking hook failed');
    }
    return true;
  }

  #fail(error: unknown, base: InitStartPayload, elapsedMs: number): void {
    const code = error instanceof OperationTimeoutError
      ? SETUP_TIMEOUT_CODE
      : StowageError.isStowageError(error)
        ? error.code
        : errorCode(error);
    const failure: BackendFailure = { code, message: describeError(error), at: new Date() };
    this.#enterDown(failure);
    const payload: InitErrorPayload = {
      ...base,
      duration_ms: Math.round(elapsedMs),
      error_code: failure.code,
      error_message: failure.message,
      next_attempt_at: this.#nextAttemptAt?.toISOString() ?? null,
    };
    this.#options.notifier.notify(BackupEvents.initError, payload, 'ERROR');
    this.#options.logger?.error(
      { backend: this.backendName, attempt: base.attempt, code, err: failure.message, nextAttemptAt: payload.next_attempt_at },
      this.#nextAttemptAt
        ? 'backup driver setup failed; the backend is down and setup will be retried'
        : 'backup driver setup failed; the backend stays down until restart (backup_periodic_initialization is off)',
    );
  }

  /**
   * The storage was found unreachable (e.g. `checkAvailable` before a create failed): stop heartbeats, show the
   * backend down, and let periodic setup bring it back.
   */
  markNotWorking(error: unknown): void {
    if (this.#state === 'stopped') return;
    const failure: BackendFailure = {
      code: StowageError.isStowageError(error) ? error.code : errorCode(error),
      message: describeError(error),
      at: new Date(),
    };
    const wasUp = this.#state === 'up';
    this.#enterDown(failure);
    if (wasUp) {
      // The next setup is a fresh series: attempt numbers in init events restart at 1.
      this.#attempt = 0;
    }
    this.#options.logger?.warn(
      { backend: this.backendName, code: failure.code, err: failure.message },
      'backend marked not working; periodic setup takes over',
    );
  }

  #enterDown(failure: BackendFailure): void {
    this.#state = 'down';
    this.#lastFailure = failure;
    this.#stopHeartbeats();
    this.#scheduleRetry();
    void this.#persistState();
  }

  #scheduleRetry(): void {
    this.#clearRetryTimer();
    if (!this.#options.periodicInitialization || this.#state === 'stopped') {
      this.#nextAttemptAt = null;
      return;
    }
    const delay = this.#options.periodicIntervalMs;
    this.#nextAttemptAt = new Date(Date.now() + delay);
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = null;
      void this.#attemptSetup();
    }, delay);
  }

  #clearRetryTimer(): void {
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    this.#retryTimer = null;
  }

  #startHeartbeats(): void {
    this.#stopHeartbeats();
    this.#beat();
    this.#heartbeatTimer = setInterval(() => this.#beat(), this.#options.reportIntervalMs);
  }

  #beat(): void {
    // One heartbeat at a time: a slow database or storage must not pile them up.
    if (this.#heartbeatInFlight || this.#state !== 'up') return;
    this.#heartbeatInFlight = this.#checkThenReport()
      .catch((error: unknown) => {
        this.#options.logger?.error({ backend: this.backendName, err: describeError(error) }, 'heartbeat failed');
      })
      .finally(() => {
        this.#heartbeatInFlight = null;
      });
  }

  /**
   * A heartbeat vouches for the storage, not only for the process: the driver's cheap `checkAvailable()` runs
   * first, and storage that stopped answering takes the backend down at once (periodic setup brings it back)
   * instead of heartbeating while every backup would fail. Cinder's `report_state` checks nothing.
   */
  async #checkThenReport(): Promise<void> {
    if ((await this.checkStorage()) !== undefined) return;
    await this.#options.hooks.reportHeartbeat();
    this.#lastHeartbeatAt = new Date();
  }

  /**
   * Check the storage now, as every heartbeat does (and as the spec asks before each create): the driver's
   * `checkAvailable()` under a timeout, joined with a check already in flight. Storage found unreachable takes the
   * backend down at once. Returns why the backend cannot take work, or `undefined` when it can.
   */
  async checkStorage(): Promise<string | undefined> {
    if (this.#state !== 'up') {
      return `backend not working (${this.#lastFailure?.message ?? 'driver not initialised'})`;
    }
    this.#checkInFlight ??= runWithTimeout(
      `checkAvailable of backend ${this.backendName} (driver ${this.driverName})`,
      // A check is a HEAD or a stat: it must not hold a create or a heartbeat for a whole setup timeout.
      Math.min(this.#options.initializationTimeoutMs, CHECK_TIMEOUT_CAP_MS),
      (signal) => this.driver.checkAvailable({ signal }),
      this.#stopController.signal,
    ).finally(() => {
      this.#checkInFlight = null;
    });
    try {
      await this.#checkInFlight;
    } catch (error) {
      if (this.#state === 'up') this.markNotWorking(error);
      return `storage unreachable: ${describeError(error)}`;
    }
    return this.#state === 'up' ? undefined : `backend not working (${this.#lastFailure?.message ?? 'stopped'})`;
  }

  #stopHeartbeats(): void {
    if (this.#heartbeatTimer) clearInterval(this.#heartbeatTimer);
    this.#heartbeatTimer = null;
  }

  async #persistState(): Promise<void> {
    try {
      await this.#options.hooks.reportState(this.#state, this.#lastFailure);
    } catch (error) {
      this.#options.logger?.error({ backend: this.backendName, err: describeError(error) }, 'recording the backend state failed');
    }
  }

  /** Stop timers, abandon a running setup, and record the backend as stopped. Idempotent. */
  async stop(): Promise<void> {
    if (this.#state === 'stopped') return;
    this.#state = 'stopped';
    this.#stopController.abort(new Error('service stopping'));
    this.#clearRetryTimer();
    this.#stopHeartbeats();
    this.#nextAttemptAt = null;
    await this.#heartbeatInFlight;
    // Other hosts then see this backend down at once instead of after service_down_time.
    await this.#persistState();
  }
}

function errorCode(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'UNKNOWN';
}
