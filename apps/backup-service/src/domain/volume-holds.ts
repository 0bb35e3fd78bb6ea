/**
 * The volume status a backup holds while it is in flight, and how letting go of it undoes that status. A create
 * holds its volume `backing-up`; a restore holds its target `restoring-backup` (or `creating`, 3.47). Whatever
 * takes the backup out of that status (finished, failed, reset, forced, cleaned up after a crash) lets go of the
 * volume the same way, so none of those paths can leave it stuck (`Store.updateBackup` applies it).
 */
import { BackupStatus, VolumeStatus } from './statuses.js';

export interface VolumeRelease {
  readonly volumeId: string;
  /** The status the hold set; a volume that moved on since (e.g. a finished restore made it `available`) is left alone. */
  readonly from: VolumeStatus;
  /** `previous` puts back the status the volume had before (a create); otherwise the status to set. */
  readonly to: VolumeStatus | 'previous';
}

/** What a backup in `backup.status` must release when it leaves that status (nothing outside creating/restoring). */
export function volumeReleasesOf(backup: { readonly status: string; readonly volume_id: string; readonly restore_volume_id: string | null }): VolumeRelease[] {
  if (backup.status === BackupStatus.Creating) return [{ volumeId: backup.volume_id, from: VolumeStatus.BackingUp, to: 'previous' }];
  if (backup.status === BackupStatus.Restoring && backup.restore_volume_id) {
    // The restore may have written part of the data: the target is not trusted as it was (Cinder's failure statuses).
    return [
      { volumeId: backup.restore_volume_id, from: VolumeStatus.RestoringBackup, to: VolumeStatus.ErrorRestoring },
      { volumeId: backup.restore_volume_id, from: VolumeStatus.Creating, to: VolumeStatus.Error },
    ];
  }
  return [];
}
