/**
 * Export and import of backup records. The record is self-contained: enough to import the backup into another
 * Stowage configured on the same storage. An import is verified on the backend (its metadata object must exist)
 * before it becomes `available`; until then it is `creating`, and on failure `error` with nothing touched there.
 */
import { describeError, type ExpectedBackup } from '@stowage/core';
import type { BackupRow } from '../db/tables.js';
import type { BackupRecord } from '../domain/backup-record.js';
import { InvalidState, ServiceUnavailable } from '../domain/errors.js';
import { parseStringRecord } from '../domain/json-object.js';
import { newBackupRow } from '../domain/new-backup-row.js';
import { BackupStatus } from '../domain/statuses.js';
import type { ImportSteps } from '../manager/backup-manager.js';
import { findBackup } from './backup-queries.js';
import type { Caller, OperationDeps } from './context.js';

/** `backup_service` of exported records: tempest requires the `cinder.backup.drivers` prefix. */
export const BACKUP_SERVICE_PREFIX = 'cinder.backup.drivers.stowage.';
export const RECORD_FORMAT = 'stowage.backup-record/v1';
/** Cinder's volume id of an imported backup whose volume is unknown. */
const NULL_VOLUME = '00000000-0000-0000-0000-000000000000';
const GiB = 1024 ** 3;
/** The engine's default prefix `volume_<volume>/backup_<backup>/` names the backup that wrote the data there. */
const DEFAULT_PREFIX = /^volume_[^/]+\/backup_([^/]+)\/$/;

/**
 * What a backup row says its data is, for the engine to check the stored metadata against before a restore or an
 * import trusts it. The data's backup id is the row's own, except for an imported copy whose record changed the id
 * (tempest's export/import test does): its prefix still names the backup that wrote the data.
 */
export function expectedBackupOf(row: Pick<BackupRow, 'id' | 'volume_id' | 'size' | 'service_metadata'>): ExpectedBackup {
  const writer = DEFAULT_PREFIX.exec(row.service_metadata ?? '')?.[1];
  return {
    backupId: writer ?? row.id,
    volumeId: row.volume_id === NULL_VOLUME ? undefined : row.volume_id,
    volumeSize: row.size * GiB,
  };
}

export interface ExportedRecord {
  /** The driver that stored the data (`backup.service`). */
  readonly service: string | null;
  readonly record: BackupRecord & Record<string, unknown>;
}

export async function exportBackupRecord(deps: OperationDeps, caller: Caller, backupId: string): Promise<ExportedRecord> {
  const backup = await findBackup(deps, caller, backupId);
  if (backup.status !== BackupStatus.Available) throw new InvalidState(`Invalid backup: Backup status must be available and not ${backup.status}.`);
  return { service: backup.service, record: exportRecord(backup, deps.manager.packageOf(backup.backend_name)) };
}

export function exportRecord(backup: BackupRow, driverPackage: string | undefined): BackupRecord & Record<string, unknown> {
  return {
    id: backup.id,
    user_id: backup.user_id,
    project_id: backup.project_id,
    volume_id: backup.volume_id,
    display_name: backup.display_name,
    display_description: backup.display_description,
    container: backup.container ?? '',
    service_metadata: backup.service_metadata ?? '',
    service: backup.service,
    size: backup.size,
    object_count: backup.object_count,
    availability_zone: backup.availability_zone,
    parent_id: backup.parent_id,
    snapshot_id: backup.snapshot_id,
    data_timestamp: backup.data_timestamp,
    created_at: backup.created_at,
    metadata: parseStringRecord(backup.metadata),
    driver_info: {
      format: RECORD_FORMAT,
      backend_name: backup.backend_name,
      driver: backup.service,
      package: driverPackage ?? null,
      // The data key's id (not the key): the importing service finds it, wrapped, on the backend.
      encryption_key_id: backup.encryption_key_id,
    },
  };
}

export interface ImportRequest {
  /** `backup_service` as given (for the error message). */
  readonly backupService: string;
  /** The driver it names. */
  readonly driverName: string;
  readonly record: BackupRecord;
}

/** Accept an import into the caller's project; verification on the backend runs after. */
export async function importBackupRecord(deps: OperationDeps, caller: Caller, request: ImportRequest): Promise<BackupRow> {
  const { store, placement, quotas, manager } = deps;
  const { record } = request;
  const existing = await store.getBackupIncludingDeleted(record.id);
  if (existing && existing.deleted === 0) throw new InvalidState('Invalid backup: Backup already exists in database.');
  // The backend the record names, else any backend of the same driver (another Stowage, same storage).
  const placed = await placement.placeImport({ backendName: record.driver_info?.backend_name ?? null, driverName: request.driverName });
  if (!placed) throw new ServiceUnavailable(`Service ${request.backupService} could not be found.`);
  // Cinder answers 201 whatever parent_id says, so a link that cannot hold is dropped rather than refused: only an
  // existing backup of the caller's own project on the same backend name can be a parent (bug 1869746), else the
  // import would block another project's delete of its own backup.
  const parent = record.parent_id ? await store.getBackup(record.parent_id, caller.projectId) : undefined;
  const parentId = parent && parent.backend_name === placed.backendName ? parent.id : null;
  const keyId = record.driver_info?.encryption_key_id;
  const row: BackupRow = {
    ...newBackupRow({
    id: record.id,
    projectId: caller.projectId,
    userId: caller.userId,
    volumeId: record.volume_id ?? NULL_VOLUME,
    size: record.size,
    name: record.display_name ?? null,
    description: record.display_description ?? null,
    container: record.container,
    parentId,
    availabilityZone: record.availability_zone ?? placed.availabilityZone,
    metadata: record.metadata ?? {},
    host: placed.host,
    backendName: placed.backendName,
    serviceMetadata: record.service_metadata,
    objectCount: record.object_count ?? 0,
    dataTimestamp: record.data_timestamp ?? null,
    // Verified here at once (placement picked a local backend): no other host's claim takes it.
    worker: deps.work?.workerId ?? null,
    }),
    encryption_key_id: typeof keyId === 'string' && /^[0-9a-f-]{1,36}$/i.test(keyId) ? keyId : null,
  };
  await quotas.reserveBackup(caller.projectId, record.size, async () => {
    // A soft-deleted row of the same id is revived, as Cinder does.
    if (existing) {
      if (!(await store.replaceDeletedBackup(row))) throw new InvalidState('Invalid backup: Backup already exists in database.');
    } else {
      await store.insertBackup(row);
    }
  });
  if (parentId) await store.adjustDependentCount(parentId, 1);
  void manager.importBackup(placed.host, row.id, importSteps(deps, row.id));
  return row;
}

function importSteps(deps: OperationDeps, backupId: string): ImportSteps {
  const { store, logger } = deps;
  return {
    async begin() {
      const backup = await store.getBackup(backupId);
      if (!backup || backup.status !== BackupStatus.Creating || !backup.container || !backup.service_metadata) return undefined;
      return {
        location: { container: backup.container, prefix: backup.service_metadata },
        expected: expectedBackupOf(backup),
        projectId: backup.project_id,
        encryptionKeyId: backup.encryption_key_id,
      };
    },
    async finished(objectCount, backend) {
      await store.updateBackup(
        backupId,
        { status: BackupStatus.Available, object_count: objectCount, fail_reason: null, service: backend.driverName, backend_name: backend.backendName },
        { status: [BackupStatus.Creating] },
      );
    },
    async failed(reason, error) {
      // service stays empty: the row never owned data, so deleting it must not touch the backend.
      await store.updateBackup(backupId, { status: BackupStatus.Error, fail_reason: reason, service: null }, { status: [BackupStatus.Creating] });
      logger.error({ backup: backupId, reason, err: describeError(error) }, 'backup import failed');
    },
  };
}
