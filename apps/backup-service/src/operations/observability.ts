/**
 * What operators read: readiness (the database answers; which backends are up), the live progress of running
 * operations, and the status overview (backends of every host, running operations, recent failures).
 */
import { describeError, runWithTimeout } from '@stowage/core';
import type { BackupRow, ServiceRow } from '../db/tables.js';
import { BackupStatus } from '../domain/statuses.js';
import { NotFound } from '../domain/errors.js';
import type { OperationProgressSnapshot, RecentFailure } from '../observability/progress-tracker.js';
import { scopeOf, type Caller, type OperationDeps } from './context.js';

/** A readiness probe must answer before the orchestrator's own timeout (Kubernetes: 1 s by default, often raised). */
const DATABASE_PROBE_MS = 3000;

export interface BackendReadiness {
  readonly host: string;
  readonly backend: string;
  readonly state: string;
  readonly up: boolean;
}

export interface Readiness {
  readonly ready: boolean;
  readonly database: { readonly ok: boolean; readonly error?: string };
  /** This process's backends (from their lifecycles, not the database: they answer while it is away). */
  readonly backends: readonly BackendReadiness[];
}

/**
 * Ready when the database answers: every API call needs it. Backends that are down do not make the service unready
 * (errored backups stay deletable, other backends take work); they are reported so a probe can show them.
 */
export async function readiness(deps: OperationDeps): Promise<Readiness> {
  const backends = [...deps.manager.backends.values()].map((runtime) => {
    const { state } = runtime.lifecycle.status;
    return { host: runtime.serviceHost, backend: runtime.name, state, up: state === 'up' };
  });
  try {
    await runWithTimeout('readiness check of the database', DATABASE_PROBE_MS, () => deps.store.listServices({}));
    return { ready: true, database: { ok: true }, backends };
  } catch (error) {
    return { ready: false, database: { ok: false, error: describeError(error) }, backends };
  }
}

/** Running operations the caller may see: an admin every one, a member only its project's. */
export async function listOperationProgress(deps: OperationDeps, caller: Caller): Promise<OperationProgressSnapshot[]> {
  const running = deps.manager.progress.list();
  const scope = scopeOf(caller);
  if (scope === undefined) return running;
  // Bounded by backup_max_operations plus the deletes in flight; each lookup is by primary key.
  const visible = await Promise.all(running.map(async (operation) => ((await deps.store.getBackup(operation.backupId, scope)) ? operation : undefined)));
  return visible.filter((operation) => operation !== undefined);
}

/**
 * One backup's status and its running operation (`null` when nothing runs on it now: the status says how it
 * ended). 404 when the caller cannot see the backup.
 */
export async function getOperationProgress(
  deps: OperationDeps,
  caller: Caller,
  backupId: string,
): Promise<{ readonly backup: BackupRow; readonly operation: OperationProgressSnapshot | null; readonly lastFailure: RecentFailure | null }> {
  const backup = await deps.store.getBackup(backupId, scopeOf(caller));
  if (!backup) throw new NotFound(`Backup ${backupId} could not be found.`);
  const lastFailure = deps.manager.progress.recentFailures.find((failure) => failure.backupId === backupId) ?? null;
  return { backup, operation: deps.manager.progress.of(backupId)[0] ?? null, lastFailure };
}

export interface ServiceStatus {
  /** Every host's backends, as the database records them. */
  readonly services: readonly ServiceRow[];
  readonly operations: readonly OperationProgressSnapshot[];
  /** The newest backups in `error`, with their fail_reason. */
  readonly recentFailures: readonly BackupRow[];
}

const RECENT_FAILURES = 10;

/** The overview behind `stowage status` and the status page (admin). */
export async function serviceStatus(deps: OperationDeps): Promise<ServiceStatus> {
  const [services, recentFailures] = await Promise.all([
    deps.store.listServices({}),
    deps.store.listBackups({ status: BackupStatus.Error, sort: [['updated_at', 'desc']], limit: RECENT_FAILURES }),
  ]);
  return { services, operations: deps.manager.progress.list(), recentFailures };
}
