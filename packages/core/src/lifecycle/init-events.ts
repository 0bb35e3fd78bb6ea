/** Event types of the backup service's notifications (Cinder's, plus the spec's init events Cinder never sent). */
export const BackupEvents = {
  initStart: 'backup.init.start',
  initEnd: 'backup.init.end',
  initError: 'backup.init.error',
  createStart: 'backup.create.start',
  createEnd: 'backup.create.end',
  createProgress: 'backup.createprogress',
  restoreStart: 'backup.restore.start',
  restoreEnd: 'backup.restore.end',
  deleteStart: 'backup.delete.start',
  deleteEnd: 'backup.delete.end',
} as const;

export type BackupEventType = (typeof BackupEvents)[keyof typeof BackupEvents];

/** Payload of `backup.init.start`. */
export interface InitStartPayload {
  /** The service host, `<host>@<backend>`. */
  readonly host: string;
  readonly backend: string;
  readonly driver: string;
  /** 1 for the first attempt since start-up (or since the backend was last marked not working). */
  readonly attempt: number;
}

/** Payload of `backup.init.end`. */
export interface InitEndPayload extends InitStartPayload {
  readonly duration_ms: number;
}

/** Payload of `backup.init.error`. */
export interface InitErrorPayload extends InitStartPayload {
  readonly duration_ms: number;
  /** The error's stable code (`DRIVER_SETUP`, `STORAGE_UNAVAILABLE`, `SETUP_TIMEOUT`...). */
  readonly error_code: string;
  readonly error_message: string;
  /** ISO-8601 time of the next attempt; null when periodic initialisation is off (down until restart). */
  readonly next_attempt_at: string | null;
}

/** Cinder's backup usage payload (reference 1.8), sent with every `backup.*` operation event. */
export interface BackupUsagePayload {
  readonly tenant_id: string;
  readonly user_id: string;
  readonly availability_zone: string | null;
  readonly backup_id: string;
  readonly host: string | null;
  readonly display_name: string | null;
  readonly created_at: string;
  readonly status: string;
  readonly volume_id: string;
  readonly size: number;
  readonly service_metadata: string | null;
  readonly service: string | null;
  readonly fail_reason: string | null;
  readonly parent_id: string | null;
  readonly num_dependent_backups: number;
  readonly snapshot_id: string | null;
}

/** Extra keys of `backup.createprogress`. */
export interface BackupProgressPayload extends BackupUsagePayload {
  readonly backup_percent: number;
}
