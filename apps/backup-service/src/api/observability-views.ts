/**
 * Bodies of the Stowage-specific resources (`/v3/{project_id}/stowage/...`). They sit beside Cinder's API and never
 * add keys to Cinder's documents (tempest's schemas refuse unknown keys).
 */
import type { BackupRow, ServiceRow } from '../db/tables.js';
import { memberFailReason } from '../domain/fail-reason.js';
import type { OperationProgressSnapshot, RecentFailure } from '../observability/progress-tracker.js';
import type { Readiness } from '../operations/observability.js';

export function operationView(operation: OperationProgressSnapshot, isAdmin: boolean) {
  const percent = operation.bytesTotal > 0 ? Math.min(100, Math.floor((operation.bytesDone * 1000) / operation.bytesTotal) / 10) : null;
  return {
    backup_id: operation.backupId,
    kind: operation.kind,
    // Which host runs it is the deployment's business (as os-vol-host-attr:host is admin-only in Cinder).
    ...(isAdmin ? { host: operation.serviceHost } : {}),
    backend: operation.backend,
    phase: operation.phase,
    bytes_done: operation.bytesDone,
    bytes_total: operation.bytesTotal,
    percent,
    bytes_per_second: operation.bytesPerSecond,
    seconds_left: operation.secondsLeft,
    started_at: operation.startedAt.toISOString(),
  };
}

export function backupStateView(backup: BackupRow, isAdmin: boolean) {
  return {
    id: backup.id,
    status: backup.status,
    fail_reason: isAdmin ? backup.fail_reason : memberFailReason(backup.fail_reason),
  };
}

/** A backend as the status page shows it: up only while its driver is up and its heartbeat fresh (as os-services). */
export function backendStatusView(service: ServiceRow, serviceDownTimeMs: number, now = Date.now()) {
  const fresh = service.updated_at !== null && Math.abs(now - Date.parse(service.updated_at)) <= serviceDownTimeMs;
  const up = service.backend_state === 'up' && fresh;
  const at = service.host.indexOf('@');
  return {
    host: service.host,
    backend: at < 0 ? service.host : service.host.slice(at + 1),
    state: up ? 'up' : 'down',
    backend_state: service.backend_state,
    reason: up
      ? null
      : service.backend_state !== 'up'
        ? (service.backend_state_reason ?? service.backend_state)
        : service.updated_at === null
          ? 'no heartbeat yet'
          : `no heartbeat for more than ${serviceDownTimeMs / 1000} s`,
    disabled: service.disabled !== 0,
    disabled_reason: service.disabled_reason,
    driver: service.driver_package,
    zone: service.availability_zone,
    last_heartbeat: service.updated_at === null ? null : new Date(service.updated_at).toISOString(),
  };
}

export function failureView(backup: BackupRow) {
  return {
    backup_id: backup.id,
    project_id: backup.project_id,
    volume_id: backup.volume_id,
    backend: backup.backend_name,
    fail_reason: backup.fail_reason,
    updated_at: backup.updated_at === null ? null : new Date(backup.updated_at).toISOString(),
  };
}

export function readinessView(result: Readiness) {
  return {
    status: result.ready ? 'ready' : 'not ready',
    database: result.database.ok ? 'ok' : `unreachable: ${result.database.error ?? 'unknown'}`,
    backends: result.backends.map((backend) => ({ host: backend.host, backend: backend.backend, state: backend.state })),
  };
}

/** A failure this process saw (a restore's failure leaves the backup `available`: this is where it shows). */
export function recentFailureView(failure: RecentFailure, isAdmin: boolean) {
  return { kind: failure.kind, reason: isAdmin ? failure.reason : memberFailReason(failure.reason), at: failure.at.toISOString() };
}
