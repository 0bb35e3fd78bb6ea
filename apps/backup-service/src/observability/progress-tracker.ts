/**
 * Live progress of the operations this process runs: bytes done and total, phase, start time. The manager
 * updates an entry per chunk the engine reports (never per block), so the cost is one object write per chunk;
 * rates and times left are computed only when someone reads a snapshot.
 */

export type OperationKind = 'create' | 'incremental' | 'restore' | 'delete' | 'import';

/**
 * `queued`: waiting for a `backup_max_operations` slot; `checking`: the storage check before a create;
 * `transferring`: chunks moving; `finishing`: data done, records and cleanup being written.
 */
export type OperationPhase = 'queued' | 'checking' | 'transferring' | 'finishing';

export interface OperationProgressSnapshot {
  readonly backupId: string;
  readonly kind: OperationKind;
  readonly serviceHost: string;
  readonly backend: string;
  readonly phase: OperationPhase;
  readonly bytesDone: number;
  /** 0 until the operation knows its size (a delete never does). */
  readonly bytesTotal: number;
  readonly startedAt: Date;
  /** Bytes per second since the transfer began; null before it did. */
  readonly bytesPerSecond: number | null;
  /** Seconds left at the current rate; null when unknown. */
  readonly secondsLeft: number | null;
}

/** One running operation's progress; the manager writes it, readers take snapshots. */
export class TrackedOperation {
  kind: OperationKind;
  phase: OperationPhase = 'queued';
  bytesDone = 0;
  bytesTotal = 0;
  readonly backupId: string;
  readonly serviceHost: string;
  readonly backend: string;
  readonly startedAt = Date.now();
  #transferStartedAt = 0;

  constructor(backupId: string, kind: OperationKind, serviceHost: string, backend: string) {
    this.backupId = backupId;
    this.kind = kind;
    this.serviceHost = serviceHost;
    this.backend = backend;
  }

  enter(phase: OperationPhase): void {
    if (phase === 'transferring' && this.#transferStartedAt === 0) this.#transferStartedAt = Date.now();
    this.phase = phase;
  }

  /** Called per chunk with the engine's running totals. */
  update(bytesDone: number, bytesTotal: number): void {
    this.bytesDone = bytesDone;
    this.bytesTotal = bytesTotal;
  }

  snapshot(now = Date.now()): OperationProgressSnapshot {
    const elapsed = this.#transferStartedAt === 0 ? 0 : (now - this.#transferStartedAt) / 1000;
    const rate = elapsed > 0 && this.bytesDone > 0 ? this.bytesDone / elapsed : null;
    const left = rate !== null && this.bytesTotal > 0 ? Math.max(0, this.bytesTotal - this.bytesDone) / rate : null;
    return {
      backupId: this.backupId,
      kind: this.kind,
      serviceHost: this.serviceHost,
      backend: this.backend,
      phase: this.phase,
      bytesDone: this.bytesDone,
      bytesTotal: this.bytesTotal,
      startedAt: new Date(this.startedAt),
      bytesPerSecond: rate === null ? null : Math.round(rate),
      secondsLeft: left === null ? null : Math.round(left),
    };
  }
}

/** A failed operation, kept for the status page and `stowage status` (the newest few only). */
export interface RecentFailure {
  readonly backupId: string;
  readonly kind: OperationKind;
  readonly backend: string;
  readonly reason: string;
  readonly at: Date;
}

const RECENT_FAILURES = 20;

export class ProgressTracker {
  readonly #running = new Set<TrackedOperation>();
  readonly #failures: RecentFailure[] = [];

  begin(backupId: string, kind: OperationKind, serviceHost: string, backend: string): TrackedOperation {
    const operation = new TrackedOperation(backupId, kind, serviceHost, backend);
    this.#running.add(operation);
    return operation;
  }

  end(operation: TrackedOperation, failure?: string): void {
    this.#running.delete(operation);
    if (failure === undefined) return;
    this.#failures.unshift({ backupId: operation.backupId, kind: operation.kind, backend: operation.backend, reason: failure, at: new Date() });
    this.#failures.length = Math.min(this.#failures.length, RECENT_FAILURES);
  }

  /** Every running operation, oldest first. */
  list(): OperationProgressSnapshot[] {
    const now = Date.now();
    return [...this.#running].map((operation) => operation.snapshot(now));
  }

  /** The running operations of one backup (a create and a force delete may overlap briefly). */
  of(backupId: string): OperationProgressSnapshot[] {
    return this.list().filter((operation) => operation.backupId === backupId);
  }

  get recentFailures(): readonly RecentFailure[] {
    return this.#failures;
  }
}
