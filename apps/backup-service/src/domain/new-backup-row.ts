/** The one place a new backup row is put together (a create and an import differ only in what they know). */
import { nowIso, type BackupRow } from '../db/tables.js';
import { BackupStatus } from './statuses.js';

export interface NewBackupFields {
  readonly id: string;
  readonly projectId: string;
  readonly userId: string;
  readonly volumeId: string;
  readonly size: number;
  readonly name: string | null;
  readonly description: string | null;
  readonly container: string | null;
  readonly parentId: string | null;
  readonly availabilityZone: string | null;
  readonly metadata: Readonly<Record<string, string>>;
  /** An import names its backend at once; a create learns it when placement has chosen. */
  readonly host?: string | null;
  readonly backendName?: string | null;
  readonly serviceMetadata?: string | null;
  readonly objectCount?: number;
  readonly dataTimestamp?: string | null;
  /** The process that runs the row's first operation at once (an import verified where it was accepted). */
  readonly worker?: string | null;
}

/** A `creating` backup that no backend holds data of yet (`service` stays empty until one does). */
export function newBackupRow(fields: NewBackupFields): BackupRow {
  const now = nowIso();
  return {
    id: fields.id,
    project_id: fields.projectId,
    user_id: fields.userId,
    volume_id: fields.volumeId,
    host: fields.host ?? null,
    availability_zone: fields.availabilityZone,
    container: fields.container,
    parent_id: fields.parentId,
    status: BackupStatus.Creating,
    fail_reason: null,
    size: fields.size,
    display_name: fields.name,
    display_description: fields.description,
    service_metadata: fields.serviceMetadata ?? null,
    service: null,
    backend_name: fields.backendName ?? null,
    object_count: fields.objectCount ?? 0,
    temp_volume_id: null,
    temp_snapshot_id: null,
    num_dependent_backups: 0,
    snapshot_id: null,
    data_timestamp: fields.dataTimestamp ?? now,
    restore_volume_id: null,
    metadata: JSON.stringify(fields.metadata),
    encryption_key_id: null,
    worker: fields.worker ?? null,
    scheduling_attempts: '[]',
    created_at: now,
    updated_at: null,
    deleted: 0,
    deleted_at: null,
  };
}
