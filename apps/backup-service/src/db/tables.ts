/**
 * The database schema (Kysely types). Designed for the full Cinder backup API and for several hosts sharing one
 * PostgreSQL: every state another host needs (heartbeats, backend state, which host holds a backup) is in a row,
 * and work is claimed with conditional UPDATEs.
 *
 * Portability between SQLite and PostgreSQL: times are ISO-8601 UTC text (`2026-11-26T03:48:03.123Z`, which
 * sorts as it compares), booleans are 0/1 integers, JSON is text.
 */
import type { Generated, Insertable, Selectable, Updateable } from 'kysely';

export interface ServicesTable {
  id: Generated<number>;
  /** `<host>@<backend>`. */
  host: string;
  binary: string;
  topic: string;
  availability_zone: string;
  disabled: number;
  disabled_reason: string | null;
  report_count: number;
  /** `initializing` | `up` | `down`: the driver's state, so `os-services` shows `down` at once when setup fails. */
  backend_state: string;
  backend_state_reason: string | null;
  /** Driver kind and package, e.g. `posix`, `@stowage/driver-posix@0.1.0`. */
  driver_name: string;
  driver_package: string;
  created_at: string;
  /** Last heartbeat; null until the first. */
  updated_at: string | null;
  /** Last enable/disable (not a heartbeat). */
  modified_at: string | null;
  deleted: number;
}

export interface VolumesTable {
  id: string;
  project_id: string;
  user_id: string;
  display_name: string | null;
  display_description: string | null;
  size: number;
  status: string;
  previous_status: string | null;
  availability_zone: string;
  attach_status: string;
  bootable: number;
  /** File backing the volume. */
  path: string;
  metadata: string;
  created_at: string;
  updated_at: string | null;
  deleted: number;
  deleted_at: string | null;
}

export interface BackupsTable {
  id: string;
  project_id: string;
  user_id: string;
  volume_id: string;
  /** The service host (`<host>@<backend>`) that holds the backup's current operation; null until scheduled. */
  host: string | null;
  availability_zone: string | null;
  container: string | null;
  parent_id: string | null;
  status: string;
  fail_reason: string | null;
  size: number;
  display_name: string | null;
  display_description: string | null;
  /** Object prefix of the backup on its backend. */
  service_metadata: string | null;
  /** Driver that stored the data; null means the backup never reached a backend. */
  service: string | null;
  /** Configured backend name the data lives on; incrementals and deletes must go to a backend of this name. */
  backend_name: string | null;
  object_count: number;
  temp_volume_id: string | null;
  temp_snapshot_id: string | null;
  num_dependent_backups: number;
  snapshot_id: string | null;
  data_timestamp: string;
  restore_volume_id: string | null;
  metadata: string;
  encryption_key_id: string | null;
  /** JSON list of `{host, reason}` the scheduler tried for the current create. */
  scheduling_attempts: string;
  /**
   * The process (`<host>:<boot id>`) that runs the row's current operation; null while the operation waits for
   * its host (queued). Set by the host's claim, so a restart knows started work (reset it) from queued work (run it).
   */
  worker: string | null;
  created_at: string;
  updated_at: string | null;
  deleted: number;
  deleted_at: string | null;
}

export interface QuotasTable {
  id: Generated<number>;
  project_id: string;
  resource: string;
  hard_limit: number;
  created_at: string;
  updated_at: string | null;
}

export interface QuotaUsagesTable {
  id: Generated<number>;
  project_id: string;
  resource: string;
  in_use: number;
  reserved: number;
  created_at: string;
  updated_at: string | null;
}

export interface Database {
  services: ServicesTable;
  volumes: VolumesTable;
  backups: BackupsTable;
  quotas: QuotasTable;
  quota_usages: QuotaUsagesTable;
}

export type ServiceRow = Selectable<ServicesTable>;
export type VolumeRow = Selectable<VolumesTable>;
export type BackupRow = Selectable<BackupsTable>;
export type NewBackup = Insertable<BackupsTable>;
export type NewVolume = Insertable<VolumesTable>;
export type BackupUpdate = Updateable<BackupsTable>;

/** The SQL engine behind the store: SQLite for one host, PostgreSQL for several. */
export type DatabaseKind = 'sqlite' | 'postgres';

export const nowIso = (): string => new Date().toISOString();
