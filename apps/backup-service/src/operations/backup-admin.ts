/** Backup update (name, description, metadata) and the admin's os-reset_status. */
import type { BackupRow } from '../db/tables.js';
import { InvalidState } from '../domain/errors.js';
import { BackupStatus } from '../domain/statuses.js';
import { backupUsagePayload } from '../notifications/backup-payload.js';
import { findBackup } from './backup-queries.js';
import type { Caller, OperationDeps } from './context.js';

/** Cinder's usage event types of reset_status (beyond core's `BackupEvents`). */
export const RESET_STATUS_START = 'backup.reset_status.start';
export const RESET_STATUS_END = 'backup.reset_status.end';

export interface BackupUpdate {
  readonly name?: string | null | undefined;
  readonly description?: string | null | undefined;
  readonly metadata?: Readonly<Record<string, string>> | null | undefined;
}

export async function updateBackup(deps: OperationDeps, caller: Caller, backupId: string, update: BackupUpdate): Promise<BackupRow> {
  const { store } = deps;
  const backup = await findBackup(deps, caller, backupId);
  const patch: Parameters<typeof store.updateBackup>[1] = {};
  if (update.name !== undefined) patch.display_name = update.name;
  if (update.description !== undefined) patch.display_description = update.description;
  if (update.metadata !== undefined) patch.metadata = JSON.stringify(update.metadata ?? {});
  if (Object.keys(patch).length === 0) return backup;
  await store.updateBackup(backup.id, patch);
  return (await store.getBackup(backup.id)) ?? backup;
}

/**
 * `available` or `error` only. Unlike Cinder it also changes a backup whose `service` is empty and needs no
 * backend up (docs/api.md).
 */
export async function resetBackupStatus(deps: OperationDeps, caller: Caller, backupId: string, status: string): Promise<void> {
  const { store, notifier, logger } = deps;
  const backup = await findBackup(deps, caller, backupId);
  if (status !== BackupStatus.Available && status !== BackupStatus.Error) {
    throw new InvalidState(`Invalid backup: Backup status must be available or error, not ${status}.`);
  }
  notifier.notify(RESET_STATUS_START, backupUsagePayload(backup));
  await store.updateBackup(backup.id, { status });
  const updated = await store.getBackup(backup.id);
  if (updated) notifier.notify(RESET_STATUS_END, backupUsagePayload(updated));
  logger.info({ backup: backup.id, from: backup.status, to: status }, 'backup status reset');
}
