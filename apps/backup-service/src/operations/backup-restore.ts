/**
 * Restore (reference 2.3): into an existing `available` volume at least the backup's size, or into a new volume
 * the operation creates; also the restore behind a volume created from a backup (3.47). The backup is `restoring`
 * and the target `restoring-backup` (or `creating`) until the run ends; then the target is `available` with the
 * source volume's metadata plus `src_backup_id`, or `error_restoring` (`error` if it was being created).
 */
import { BackupEvents, describeError } from '@stowage/core';
import { nowIso, type BackupRow, type VolumeRow } from '../db/tables.js';
import { InvalidState, NotFound } from '../domain/errors.js';
import { parseJsonObject } from '../domain/json-object.js';
import { BackupStatus, RESTORE_TARGET_STATUSES, VolumeStatus } from '../domain/statuses.js';
import type { RestoreSteps } from '../manager/backup-manager.js';
import { backupUsagePayload } from '../notifications/backup-payload.js';
import type { PlacedHost } from '../placement/placement.js';
import { findBackup } from './backup-queries.js';
import { expectedBackupOf } from './backup-records.js';
import { scopeOf, type Caller, type OperationDeps } from './context.js';
import { createVolumeFile, removeVolumeFile, volumeFilePath } from './volume-files.js';

export interface RestoreRequest {
  /** Restore into this volume; a new one is created when absent. */
  readonly volumeId: string | null;
  /** Name of the new volume (default `restore_backup_<id>`). */
  readonly name: string | null;
}

export interface RestoreAccepted {
  readonly backup_id: string;
  readonly volume_id: string;
  readonly volume_name: string;
}

export async function restoreBackup(deps: OperationDeps, caller: Caller, backupId: string, request: RestoreRequest): Promise<RestoreAccepted> {
  const { store } = deps;
  const backup = await findBackup(deps, caller, backupId);
  if (backup.status !== BackupStatus.Available) throw new InvalidState('Invalid backup: Backup status must be available');
  if (!backup.size) throw new InvalidState(`Invalid backup: Backup ${backup.id} has no size`);
  let existing: VolumeRow | undefined;
  if (request.volumeId) {
    existing = await store.getVolume(request.volumeId, scopeOf(caller));
    if (!existing) throw new NotFound(`Volume ${request.volumeId} could not be found.`);
    if (existing.status !== VolumeStatus.Available) throw new InvalidState('Invalid volume: Volume to be restored to must be available');
    if (existing.size < backup.size) {
      throw new InvalidState(`Invalid volume: volume size ${existing.size} is too small to restore backup of size ${backup.size}.`);
    }
  }
  const placed = await placeRestore(deps, backup);
  const volume = existing ?? (await createRestoreVolume(deps, caller, backup, request.name));
  const discardNewVolume = async () => {
    if (existing) return;
    await removeVolumeFile(volume.path);
    await store.softDeleteVolume(volume.id);
  };

  if (!(await store.updateBackup(backup.id, { status: BackupStatus.Restoring, restore_volume_id: volume.id, host: placed.host, worker: null }, { status: [BackupStatus.Available] }))) {
    await discardNewVolume();
    throw new InvalidState('Invalid backup: Backup status must be available');
  }
  if (!(await store.transitionVolume(volume.id, [VolumeStatus.Available], { status: VolumeStatus.RestoringBackup }))) {
    await store.updateBackup(backup.id, { status: BackupStatus.Available, restore_volume_id: null }, { status: [BackupStatus.Restoring] });
    await discardNewVolume();
    throw new InvalidState('Invalid volume: Volume to be restored to must be available');
  }
  runRestore(deps, placed.host, backup.id, volume.id);
  return { backup_id: backup.id, volume_id: volume.id, volume_name: volume.display_name ?? '' };
}

/** A host that can restore `backup` now; 404 as Cinder's ServiceNotFound when there is none. */
export async function placeRestore(deps: OperationDeps, backup: BackupRow): Promise<PlacedHost> {
  const placed = await deps.placement.placeRestore(backup);
  if (!placed) throw new NotFound('Service cinder-backup could not be found.');
  return placed;
}

/**
 * Start the restore on `host` (the backup is `restoring` into `volumeId`); returns at once. On a shared database
 * the row is queued for `host` and this wakes it; otherwise it runs in this process.
 */
export function runRestore(deps: OperationDeps, host: string, backupId: string, volumeId: string): void {
  if (deps.work) {
    void deps.work.dispatch(host);
    return;
  }
  void deps.manager.restoreBackup(host, backupId, restoreSteps(deps, backupId, volumeId));
}

/** A restore queued for one of this process's hosts and claimed by it. */
export async function runQueuedRestore(deps: OperationDeps, backup: BackupRow): Promise<void> {
  if (!backup.restore_volume_id) return;
  await deps.manager.restoreBackup(backup.host!, backup.id, restoreSteps(deps, backup.id, backup.restore_volume_id));
}

/** Cinder's restore into a new volume: named `restore_backup_<id>` unless named, sized as the backup. */
async function createRestoreVolume(deps: OperationDeps, caller: Caller, backup: BackupRow, name: string | null): Promise<VolumeRow> {
  const { store, config } = deps;
  const id = crypto.randomUUID();
  const path = volumeFilePath(config.volumesDir, id);
  await createVolumeFile(path, config.volumesDir, backup.size);
  const volume: VolumeRow = {
    id,
    project_id: caller.projectId,
    user_id: caller.userId,
    display_name: name ?? `restore_backup_${backup.id}`,
    display_description: 'auto-created_from_restore_from_backup',
    size: backup.size,
    status: VolumeStatus.Available,
    previous_status: null,
    availability_zone: config.storageAvailabilityZone,
    attach_status: 'detached',
    bootable: 0,
    path,
    metadata: '{}',
    created_at: nowIso(),
    updated_at: null,
    deleted: 0,
    deleted_at: null,
  };
  await store.insertVolume(volume);
  return volume;
}

function restoreSteps(deps: OperationDeps, backupId: string, volumeId: string): RestoreSteps {
  const { store, notifier, logger } = deps;
  let target: VolumeRow | undefined;
  const failed = async (reason: string, error?: unknown) => {
    await store.transitionVolume(volumeId, [VolumeStatus.RestoringBackup], { status: VolumeStatus.ErrorRestoring });
    await store.transitionVolume(volumeId, [VolumeStatus.Creating], { status: VolumeStatus.Error });
    await store.updateBackup(backupId, { status: BackupStatus.Available, restore_volume_id: null }, { status: [BackupStatus.Restoring] });
    logger.error({ backup: backupId, volume: volumeId, reason, err: error === undefined ? undefined : describeError(error) }, 'restore failed');
  };
  return {
    async begin() {
      // Read again: the restore may have waited for a slot (backup_max_operations) while it was reset.
      const backup = await store.getBackup(backupId);
      if (!backup || backup.status !== BackupStatus.Restoring || backup.restore_volume_id !== volumeId) return undefined;
      notifier.notify(BackupEvents.restoreStart, backupUsagePayload(backup));
      target = await store.getVolume(volumeId);
      // Reference 2.3, manager step 2: the target must still be restoring-backup (or creating).
      if (!target || !RESTORE_TARGET_STATUSES.some((status) => status === target!.status)) {
        await store.updateBackup(backupId, { status: BackupStatus.Available, restore_volume_id: null }, { status: [BackupStatus.Restoring] });
        if (target) await store.transitionVolume(volumeId, [target.status], { status: VolumeStatus.Error });
        logger.error({ backup: backupId, volume: volumeId, status: target?.status }, 'restore target is not restoring-backup');
        return undefined;
      }
      if (!backup.container || !backup.service_metadata) {
        await failed(`backup ${backupId} has no data location`);
        return undefined;
      }
      return {
        location: { container: backup.container, prefix: backup.service_metadata },
        expected: expectedBackupOf(backup),
        volumePath: target.path,
        projectId: backup.project_id,
        encryptionKeyId: backup.encryption_key_id,
      };
    },
    async finished(result, sourceVolumeMetadata) {
      const merged = {
        ...(typeof sourceVolumeMetadata === 'object' && sourceVolumeMetadata !== null ? (sourceVolumeMetadata as Record<string, unknown>) : {}),
        ...parseJsonObject(target!.metadata),
        src_backup_id: backupId,
      };
      await store.updateVolume(volumeId, { metadata: JSON.stringify(merged) });
      await store.transitionVolume(volumeId, RESTORE_TARGET_STATUSES, { status: VolumeStatus.Available });
      await store.updateBackup(backupId, { status: BackupStatus.Available, restore_volume_id: null }, { status: [BackupStatus.Restoring] });
      const done = await store.getBackup(backupId);
      if (done) notifier.notify(BackupEvents.restoreEnd, { ...backupUsagePayload(done), volume_id: volumeId });
      logger.info({ backup: backupId, volume: volumeId, chain: result.chain, bytesWritten: result.bytesWritten }, 'backup restored');
    },
    failed,
  };
}
