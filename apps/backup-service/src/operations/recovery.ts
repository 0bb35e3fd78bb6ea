/**
 * Start-up recovery of one backend (reference 1.7): operations a previous process left half done on this host are
 * reset as Cinder does, and interrupted deletes resume once the driver is set up.
 */
import { describeError } from '@stowage/core';
import { BackupStatus, VolumeStatus } from '../domain/statuses.js';
import type { BackendStartHooks } from '../manager/backup-manager.js';
import { runDelete } from './backup-delete.js';
import type { OperationDeps } from './context.js';
import { removeVolumeFile } from './volume-files.js';

export const INCOMPLETE_BACKUP_REASON = 'incomplete backup reset on manager restart';

export function recoveryHooks(deps: OperationDeps): BackendStartHooks {
  return {
    cleanupIncompleteOperations: (host) => cleanupIncompleteOperations(deps, host),
    onWorking: (host) => void resumeDeletes(deps, host),
  };
}

async function cleanupIncompleteOperations(deps: OperationDeps, host: string): Promise<void> {
  const { store, logger } = deps;
  const backups = await store.backupsOnHost(host, [BackupStatus.Creating, BackupStatus.Restoring, BackupStatus.Deleting]);
  for (const backup of backups) {
    try {
      if (backup.status === BackupStatus.Creating) {
        await store.restoreVolumeAfterBackup(backup.volume_id);
        await store.updateBackup(backup.id, { status: BackupStatus.Error, fail_reason: INCOMPLETE_BACKUP_REASON }, { status: [BackupStatus.Creating] });
      } else if (backup.status === BackupStatus.Restoring) {
        if (backup.restore_volume_id) {
          await store.transitionVolume(backup.restore_volume_id, [VolumeStatus.RestoringBackup], { status: VolumeStatus.ErrorRestoring });
          // A volume being created from the backup (3.47) ends `error`, as Cinder's creating volumes do.
          await store.transitionVolume(backup.restore_volume_id, [VolumeStatus.Creating], { status: VolumeStatus.Error });
        }
        await store.updateBackup(backup.id, { status: BackupStatus.Available }, { status: [BackupStatus.Restoring] });
      } else if (backup.encryption_key_id) {
        await store.updateBackup(backup.id, { status: BackupStatus.ErrorDeleting }, { status: [BackupStatus.Deleting] });
      }
      // Plain `deleting` backups resume once the driver is set up (resumeDeletes).
      logger.info({ backup: backup.id, status: backup.status, host }, 'cleaned up incomplete backup operation');
    } catch (error) {
      logger.error({ backup: backup.id, err: describeError(error) }, 'cleaning up an incomplete backup operation failed');
    }
  }
}

async function resumeDeletes(deps: OperationDeps, host: string): Promise<void> {
  try {
    for (const backup of await deps.store.backupsOnHost(host, [BackupStatus.Deleting])) runDelete(deps, host, backup.id);
  } catch (error) {
    deps.logger.error({ host, err: describeError(error) }, 'resuming interrupted deletes failed');
  }
}

/** Volume statuses that only last while this process works on the volume, and where a crash leaves each. */
const TRANSIENT_VOLUME_STATUSES: readonly string[] = [
  VolumeStatus.Creating,
  VolumeStatus.Extending,
  VolumeStatus.Deleting,
  VolumeStatus.BackingUp,
  VolumeStatus.RestoringBackup,
];

/**
 * Start-up, before the API listens: this host's volumes left in a transient status by a previous process. A volume
 * that a live backup still holds (a create or restore the backend recovery will settle) is left to that recovery;
 * the rest end where the interrupted operation's failure would have put them, and interrupted deletes finish.
 */
export async function sweepTransientVolumes(deps: OperationDeps): Promise<void> {
  const { store, config, logger } = deps;
  for (const volume of await store.volumesInStatuses(TRANSIENT_VOLUME_STATUSES, config.volumesDir)) {
    try {
      if (await store.volumeHeldByBackup(volume.id)) continue;
      switch (volume.status) {
        case VolumeStatus.Deleting:
          await removeVolumeFile(volume.path);
          await store.softDeleteVolume(volume.id);
          break;
        case VolumeStatus.BackingUp:
          await store.restoreVolumeAfterBackup(volume.id);
          break;
        case VolumeStatus.RestoringBackup:
          await store.transitionVolume(volume.id, [VolumeStatus.RestoringBackup], { status: VolumeStatus.ErrorRestoring });
          break;
        case VolumeStatus.Extending:
          await store.transitionVolume(volume.id, [VolumeStatus.Extending], { status: VolumeStatus.ErrorExtending });
          break;
        default:
          await store.transitionVolume(volume.id, [VolumeStatus.Creating], { status: VolumeStatus.Error });
      }
      logger.info({ volume: volume.id, status: volume.status }, 'reset a volume an interrupted operation left behind');
    } catch (error) {
      logger.error({ volume: volume.id, err: describeError(error) }, 'resetting an interrupted volume operation failed');
    }
  }
}
