/**
 * The statuses a backup and a volume move through, as Cinder names them. The values are the strings stored in the
 * `status` columns and shown by the API; code names them through these constants so a typo cannot compile.
 */
export const BackupStatus = {
  Creating: 'creating',
  Available: 'available',
  Deleting: 'deleting',
  Restoring: 'restoring',
  Error: 'error',
  ErrorDeleting: 'error_deleting',
  Deleted: 'deleted',
} as const;

export type BackupStatus = (typeof BackupStatus)[keyof typeof BackupStatus];

export const VolumeStatus = {
  Creating: 'creating',
  Available: 'available',
  InUse: 'in-use',
  BackingUp: 'backing-up',
  RestoringBackup: 'restoring-backup',
  Extending: 'extending',
  Deleting: 'deleting',
  Deleted: 'deleted',
  Error: 'error',
  ErrorRestoring: 'error_restoring',
  ErrorExtending: 'error_extending',
  ErrorDeleting: 'error_deleting',
  ErrorManaging: 'error_managing',
} as const;

export type VolumeStatus = (typeof VolumeStatus)[keyof typeof VolumeStatus];

/** Statuses in which a backup has an operation in flight on its host (placement counts them as load). */
export const BACKUP_STATUSES_IN_FLIGHT: readonly BackupStatus[] = [BackupStatus.Creating, BackupStatus.Restoring, BackupStatus.Deleting];

/** Volume statuses a restore writes into: an existing volume, or one being created from the backup (3.47). */
export const RESTORE_TARGET_STATUSES: readonly VolumeStatus[] = [VolumeStatus.RestoringBackup, VolumeStatus.Creating];
