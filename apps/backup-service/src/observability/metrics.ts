/**
 * The service's Prometheus metrics (prom-client), in one registry per service instance. Label values are bounded:
 * backend names come from the config, kinds and outcomes from fixed lists, API routes are templates
 * (`/v3/:project_id/backups/:backup_id`, never a URL), reasons are error-code classes. No ids, no projects.
 *
 * Gauges of state (backend up, heartbeat age, running and queued operations) are read when scraped, so a backend the
 * heartbeat finds down shows 0 at the next scrape, without a timer of our own.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { OperationKind } from './progress-tracker.js';

export type OperationOutcome = 'done' | 'failed' | 'storage_unreachable' | 'skipped';

export interface BackendSample {
  readonly backend: string;
  readonly up: boolean;
  /** The error code of the last failure (`STORAGE_UNAVAILABLE`, `SETUP_TIMEOUT`...), null when none. */
  readonly lastFailureCode: string | null;
  readonly lastHeartbeatAt: Date | null;
}

export interface LoadSample {
  readonly running: number;
  readonly queued: number;
}

export interface MetricsSources {
  backends(): readonly BackendSample[];
  load(): LoadSample;
}

export interface ServiceMetricsOptions {
  readonly serviceVersion: string;
  readonly driverContract: string;
  readonly apiMaxVersion: string;
  readonly maxOperations: number;
}

/** A failure code as a label value: known shapes pass, anything else is `OTHER` (bounded whatever a driver throws). */
export function reasonClass(code: string | null): string {
  if (code === null) return 'none';
  return /^[A-Z][A-Z0-9_]{0,39}$/.test(code) ? code : 'OTHER';
}

const DURATION_BUCKETS = [1, 5, 15, 60, 300, 900, 1800, 3600, 7200, 14_400, 43_200];
const API_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export class ServiceMetrics {
  readonly registry = new Registry();
  readonly contentType: string;
  #sources: MetricsSources | undefined;
  readonly #operations: Counter<'kind' | 'outcome'>;
  readonly #durations: Histogram<'kind' | 'outcome'>;
  readonly #bytesRead: Counter<'backend'>;
  readonly #bytesStored: Counter<'backend'>;
  readonly #bytesRestored: Counter<'backend'>;
  readonly #setupAttempts: Counter<'backend'>;
  readonly #setupFailures: Counter<'backend'>;
  readonly #requests: Counter<'method' | 'route' | 'status'>;
  readonly #requestDurations: Histogram<'method' | 'route'>;

  constructor(options: ServiceMetricsOptions) {
    const registers = [this.registry];
    this.contentType = this.registry.contentType;
    collectDefaultMetrics({ register: this.registry });
    const sources = () => this.#sources;

    new Gauge({
      name: 'stowage_build_info',
      help: 'Build and contract versions of this service (always 1).',
      labelNames: ['version', 'driver_contract', 'api_max_version'],
      registers,
    }).set({ version: options.serviceVersion, driver_contract: options.driverContract, api_max_version: options.apiMaxVersion }, 1);

    new Gauge({
      name: 'stowage_backend_up',
      help: 'Whether the backend is working (1) or not (0): setup succeeded and the last storage check passed.',
      labelNames: ['backend'],
      registers,
      collect() {
        this.reset();
        for (const sample of sources()?.backends() ?? []) this.set({ backend: sample.backend }, sample.up ? 1 : 0);
      },
    });
    new Gauge({
      name: 'stowage_backend_last_failure',
      help: 'The reason class (error code) of the backend\'s last failure while it is not up (1); absent while up.',
      labelNames: ['backend', 'reason'],
      registers,
      collect() {
        this.reset();
        for (const sample of sources()?.backends() ?? []) {
          if (!sample.up && sample.lastFailureCode !== null) this.set({ backend: sample.backend, reason: reasonClass(sample.lastFailureCode) }, 1);
        }
      },
    });
    new Gauge({
      name: 'stowage_backend_heartbeat_age_seconds',
      help: 'Seconds since the backend\'s last heartbeat (absent before the first one).',
      labelNames: ['backend'],
      registers,
      collect() {
        this.reset();
        const now = Date.now();
        for (const sample of sources()?.backends() ?? []) {
          if (sample.lastHeartbeatAt) this.set({ backend: sample.backend }, (now - sample.lastHeartbeatAt.getTime()) / 1000);
        }
      },
    });
    this.#setupAttempts = new Counter({ name: 'stowage_backend_setup_attempts_total', help: 'Driver setup attempts (doSetup).', labelNames: ['backend'], registers });
    this.#setupFailures = new Counter({ name: 'stowage_backend_setup_failures_total', help: 'Driver setup attempts that failed or timed out.', labelNames: ['backend'], registers });

    this.#operations = new Counter({
      name: 'stowage_operations_total',
      help: 'Finished operations by kind (create, incremental, restore, delete, import) and outcome.',
      labelNames: ['kind', 'outcome'],
      registers,
    });
    this.#durations = new Histogram({
      name: 'stowage_operation_duration_seconds',
      help: 'Duration of finished operations, queueing included.',
      labelNames: ['kind', 'outcome'],
      buckets: DURATION_BUCKETS,
      registers,
    });
    new Gauge({
      name: 'stowage_operations_running',
      help: 'Creates and restores holding a backup_max_operations slot.',
      registers,
      collect() {
        this.set(sources()?.load().running ?? 0);
      },
    });
    new Gauge({
      name: 'stowage_operations_queued',
      help: 'Creates and restores waiting for a backup_max_operations slot.',
      registers,
      collect() {
        this.set(sources()?.load().queued ?? 0);
      },
    });
    new Gauge({ name: 'stowage_operations_max', help: 'backup_max_operations (0 = unlimited).', registers }).set(options.maxOperations);

    this.#bytesRead = new Counter({ name: 'stowage_bytes_read_total', help: 'Volume bytes read by backups (holes included).', labelNames: ['backend'], registers });
    this.#bytesStored = new Counter({ name: 'stowage_bytes_stored_total', help: 'Bytes written to the backend by backups (after compression).', labelNames: ['backend'], registers });
    this.#bytesRestored = new Counter({ name: 'stowage_bytes_restored_total', help: 'Bytes written to volumes by restores.', labelNames: ['backend'], registers });

    this.#requests = new Counter({
      name: 'stowage_api_requests_total',
      help: 'API requests by method, route template and status code.',
      labelNames: ['method', 'route', 'status'],
      registers,
    });
    this.#requestDurations = new Histogram({
      name: 'stowage_api_request_duration_seconds',
      help: 'API request durations by method and route template.',
      labelNames: ['method', 'route'],
      buckets: API_BUCKETS,
      registers,
    });
  }

  /** Where the state gauges read from (the manager, once it exists). */
  observe(sources: MetricsSources): void {
    this.#sources = sources;
  }

  operationFinished(kind: OperationKind, outcome: OperationOutcome, seconds: number): void {
    this.#operations.inc({ kind, outcome });
    this.#durations.observe({ kind, outcome }, seconds);
  }

  /** A counter per backend, bound once, so the per-chunk path does no label lookup. */
  bytesCounters(backend: string): { read: Counter.Internal; stored: Counter.Internal; restored: Counter.Internal } {
    return { read: this.#bytesRead.labels({ backend }), stored: this.#bytesStored.labels({ backend }), restored: this.#bytesRestored.labels({ backend }) };
  }

  setupStarted(backend: string): void {
    this.#setupAttempts.inc({ backend });
  }

  setupFailed(backend: string): void {
    this.#setupFailures.inc({ backend });
  }

  /** Make every backend's series exist from the start (a counter that appears only on its first failure cannot be alerted on). */
  declareBackend(backend: string): void {
    this.#setupAttempts.inc({ backend }, 0);
    this.#setupFailures.inc({ backend }, 0);
    const bytes = this.bytesCounters(backend);
    bytes.read.inc(0);
    bytes.stored.inc(0);
    bytes.restored.inc(0);
  }

  apiRequest(method: string, route: string, status: number, seconds: number): void {
    this.#requests.inc({ method, route, status: String(status) });
    this.#requestDurations.observe({ method, route }, seconds);
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }
}
