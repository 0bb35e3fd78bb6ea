/**
 * Delete and force delete (reference 2.2): `available` or `error` unless forced (never `deleting` or `restoring`),
 * no incremental children, and an up host of the backup's backend name; a backup that never reached a backend is
 * deleted here without one (the spec's promise). A forced delete of a running create stops that create first.
 */
import { BackupEvents } from '@stowage/core';
import type { BackupRow } from '../db/tables.js';
import { isValidContainerName } from '../domain/container-name.js';
import { InvalidState, NotFound } from '../domain/errors.js';
import { BackupStatus } from '../domain/statuses.js';
import type { DeleteSteps } from '../manager/backup-manager.js';
import { backupUsagePayload } from '../notifications/backup-payload.js';
import { findBackup } from './backup-queries.js';
import type { Caller, OperationDeps } from './context.js';

const CHILDREN_EXIST = 'Invalid backup: Incremental backups exist for this backup.';

export const BACKEND_DOWN_FOR_DELETE = 'Delete backup is aborted due to backup service is down.';

export async function deleteBackup(deps: OperationDeps, caller: Caller, backupId: string, options: { force: boolean }): Promise<void> {
  const { store, placement, manager } = deps;
  const backup = await findBackup(deps, caller, backupId);
  const deletable: string[] = [BackupStatus.Available, BackupStatus.Error];
  if (!options.force && !deletable.includes(backup.status)) {
    throw new InvalidState('Invalid backup: Backup status must be available or error');
  }
  if (backup.status === BackupStatus.Deleting || backup.status === BackupStatus.Restoring) {
    // A restore reads the data and a delete is already running: neither may be cut short (Cinder refuses too).
    throw new InvalidState(`Invalid backup: Backup status must be available or error, not ${backup.status}`);
  }
  if ((await store.countChildren(backup.id)) > 0) throw new InvalidState(CHILDREN_EXIST);
  // `noChildren` on every transition below: an incremental inserted since the count above makes the delete lose.
  const expected = options.force ? [backup.status] : deletable;
  const refused = async (message: string) => new InvalidState((await store.countChildren(backup.id)) > 0 ? CHILDREN_EXIST : message);

  if (backup.service === null && backup.status !== BackupStatus.Creating) {
    // Never reached a backend: nothing to delete there, so no backup service is needed.
    if (!(await store.updateBackup(backup.id, { status: BackupStatus.Deleting }, { status: expected, noChildren: true }))) {
      throw await refused('Invalid backup: Backup status must be available or error');
    }
    await finishDelete(deps, { ...backup, status: BackupStatus.Deleting }, { announceStart: true });
    return;
  }

  if (backup.status === BackupStatus.Creating && backup.host === null) {
    // Accepted but not placed yet: taking it out of `creating` first means no placer can claim it after.
    if (!(await store.updateBackup(backup.id, { status: BackupStatus.Deleting }, { status: [BackupStatus.Creating], host: null, noChildren: true }))) {
      throw await refused('Invalid backup: the backup was scheduled meanwhile; try again');
    }
    await store.restoreVolumeAfterBackup(backup.volume_id);
    await finishDelete(deps, { ...backup, status: BackupStatus.Deleting }, { announceStart: true });
    return;
  }

  const placed = await placement.placeDelete(backup);
  if (!placed) throw new NotFound('Service cinder-backup could not be found.');
  if (!(await store.updateBackup(backup.id, { status: BackupStatus.Deleting, host: placed.host, worker: null }, { status: expected, noChildren: true }))) {
    throw await refused('Invalid backup: Backup status must be available or error');
  }
  // Several hosts: the delete is queued for placed.host, whose claim stops a create of it running there first.
  if (options.force && !deps.work) {
    // The create must be gone (its partial data removed) before its objects are listed for deletion.
    deps.background.run('force delete', async () => {
      await manager.abortCreate(backup.id);
      runDelete(deps, placed.host, backup.id);
    });
  } else {
    runDelete(deps, placed.host, backup.id);
  }
}

/**
 * Start deleting a `deleting` backup's data on `host`; returns at once. On a shared database the row is queued for
 * `host` (no worker) and this wakes it; otherwise it runs in this process.
 */
export function runDelete(deps: OperationDeps, host: string, backupId: string): void {
  if (deps.work) {
    void deps.work.dispatch(host);
    return;
  }
  void deps.manager.deleteBackup(host, backupId, deleteSteps(deps, backupId));
}

/** A delete queued for one of this process's hosts and claimed by it: stop a create of it running here, then delete. */
export async function runQueuedDelete(deps: OperationDeps, backup: BackupRow): Promise<void> {
  await deps.manager.abortCreate(backup.id);
  await deps.manager.deleteBackup(backup.host!, backup.id, deleteSteps(deps, backup.id));
}

function deleteSteps(deps: OperationDeps, backupId: string): DeleteSteps {
  const { store, notifier, logger } = deps;
  let backup: BackupRow | undefined;
  return {
    async begin() {
      backup = await store.getBackup(backupId);
      if (!backup || backup.status !== BackupStatus.Deleting) return undefined;
      notifier.notify(BackupEvents.deleteStart, backupUsagePayload(backup));
      // An imported copy of the same objects (export, then import with a new id) keeps them alive.
      const shared = (await store.countSharingData(backup)) > 0;
      // A container no driver accepts was never written (the create failed on it): nothing to remove, nothing to refuse.
      const hasData =
        backup.service !== null && backup.container !== null && isValidContainerName(backup.container) && backup.service_metadata !== null && !shared;
      return {
        location: hasData ? { container: backup.container!, prefix: backup.service_metadata! } : undefined,
        needsWorkingBackend: backup.service !== null,
      };
    },
    async backendDown() {
      await store.updateBackup(backupId, { status: BackupStatus.ErrorDeleting, fail_reason: BACKEND_DOWN_FOR_DELETE }, { status: [BackupStatus.Deleting] });
    },
    async failed(reason) {
      await store.updateBackup(backupId, { status: BackupStatus.Error, fail_reason: reason }, { status: [BackupStatus.Deleting] });
      logger.error({ backup: backupId, reason }, 'backup delete failed');
    },
    async finished() {
      await finishDelete(deps, backup!);
    },
  };
}

/** The bookkeeping after a backup's data is gone (or it never had any): soft delete, parent count, events. */
async function finishDelete(deps: OperationDeps, backup: BackupRow, options: { announceStart?: boolean } = {}): Promise<void> {
  const { store, notifier } = deps;
  if (options.announceStart) notifier.notify(BackupEvents.deleteStart, backupUsagePayload(backup));
  if (!(await store.softDeleteBackup(backup.id))) return;
  if (backup.parent_id) await store.adjustDependentCount(backup.parent_id, -1);
  notifier.notify(BackupEvents.deleteEnd, { ...backupUsagePayload(backup), status: BackupStatus.Deleted });
}
