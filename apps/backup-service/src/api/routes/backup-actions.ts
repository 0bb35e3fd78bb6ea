/** Backup actions: restore, os-reset_status, os-force_delete, export_record and import_record. */
import { mkdir, open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ApiDependencies } from '../api-deps.js';
import { nowIso, type BackupRow } from '../../db/tables.js';
import { RESET_STATUS_END, RESET_STATUS_START } from '../../manager/backup-manager.js';
import { backupUsagePayload } from '../../notifications/backup-payload.js';
import { ApiFault, badRequest, notFound, serviceUnavailable } from '../faults.js';
import { authorize } from '../policy.js';
import { baseUrl, projectOf, scopeOf } from '../request-context.js';
import { validateBody } from '../validation.js';
import { backupSummary } from '../views.js';
import {
  backupRecordSchema,
  forceDeleteSchema,
  importRecordSchema,
  resetStatusSchema,
  restoreSchema,
  type BackupRecord,
} from './backup-schemas.js';
import { backupIdParam, deleteBackup, findBackup } from './backups.js';
import { v3Route } from './register.js';

const GiB = 1024 ** 3;
/** `backup_service` of exported records: tempest requires the `cinder.backup.drivers` prefix. */
export const BACKUP_SERVICE_PREFIX = 'cinder.backup.drivers.stowage.';
export const RECORD_FORMAT = 'stowage.backup-record/v1';
const NULL_VOLUME = '00000000-0000-0000-0000-000000000000';

export function registerBackupActionRoutes(app: FastifyInstance, deps: ApiDependencies): void {
  const { store, manager, config, quotas, logger } = deps;

  /** A backend that can serve `backup` now (up, enabled, in this process, the backup's backend name). */
  async function pickHost(backendName: string | null, accept: (host: string) => boolean = () => true): Promise<string | undefined> {
    const candidates = (await store.upServices({ serviceDownTimeMs: config.serviceDownTimeMs, backendName: backendName ?? undefined }))
      .map((service) => service.host)
      .filter((host) => manager.serves(host) && accept(host));
    return candidates[Math.floor(Math.random() * candidates.length)];
  }

  v3Route(app, 'POST', 'backups/:backup_id/restore', async (request, reply) => {
    authorize(request.stowage, 'backup:restore');
    const body = validateBody(restoreSchema, request.body).restore ?? {};
    const backup = await findBackup(deps, request, backupIdParam(request));
    if (backup.status !== 'available') throw badRequest('Invalid backup: Backup status must be available');
    if (!backup.size) throw badRequest(`Invalid backup: Backup ${backup.id} has no size`);
    let existing;
    if (body.volume_id) {
      existing = await store.getVolume(body.volume_id, scopeOf(request));
      if (!existing) throw notFound(`Volume ${body.volume_id} could not be found.`);
      if (existing.status !== 'available') throw badRequest('Invalid volume: Volume to be restored to must be available');
      if (existing.size < backup.size) {
        throw badRequest(`Invalid volume: volume size ${existing.size} is too small to restore backup of size ${backup.size}.`);
      }
    }
    const host = await pickHost(backup.backend_name);
    if (!host) throw notFound('Service cinder-backup could not be found.');
    const volume = existing ?? (await createRestoreVolume(request, backup, body.name ?? null));

    if (!(await store.updateBackup(backup.id, { status: 'restoring', restore_volume_id: volume.id, host }, { status: ['available'] }))) {
      if (!existing) await discardVolume(volume.id, volume.path);
      throw badRequest('Invalid backup: Backup status must be available');
    }
    if (!(await store.transitionVolume(volume.id, ['available'], { status: 'restoring-backup' }))) {
      await store.updateBackup(backup.id, { status: 'available', restore_volume_id: null }, { status: ['restoring'] });
      if (!existing) await discardVolume(volume.id, volume.path);
      throw badRequest('Invalid volume: Volume to be restored to must be available');
    }
    manager.restoreBackup(host, backup.id, volume.id);
    return reply.code(202).send({ restore: { backup_id: backup.id, volume_id: volume.id, volume_name: volume.display_name ?? '' } });
  });

  /** Cinder's restore into a new volume: named `restore_backup_<id>` unless named, sized as the backup. */
  async function createRestoreVolume(request: FastifyRequest, backup: BackupRow, name: string | null) {
    const id = crypto.randomUUID();
    const path = join(config.volumesDir, `volume-${id}`);
    const now = nowIso();
    await mkdir(config.volumesDir, { recursive: true });
    const handle = await open(path, 'w');
    try {
      await handle.truncate(backup.size * GiB);
    } finally {
      await handle.close();
    }
    await store.insertVolume({
      id,
      project_id: projectOf(request),
      user_id: request.stowage.userId,
      display_name: name ?? `restore_backup_${backup.id}`,
      display_description: 'auto-created_from_restore_from_backup',
      size: backup.size,
      status: 'available',
      previous_status: null,
      availability_zone: config.storageAvailabilityZone,
      attach_status: 'detached',
      bootable: 0,
      path,
      metadata: '{}',
      created_at: now,
      updated_at: null,
      deleted: 0,
      deleted_at: null,
    });
    return (await store.getVolume(id))!;
  }

  /** Remove a volume the restore created when the restore could not start after all. */
  async function discardVolume(id: string, path: string): Promise<void> {
    await rm(path, { force: true });
    await store.softDeleteVolume(id);
  }

  v3Route(app, 'POST', 'backups/:backup_id/action', async (request, reply) => {
    const body = request.body;
    const action = typeof body === 'object' && body !== null ? Object.keys(body)[0] : undefined;
    if (action === 'os-reset_status') {
      authorize(request.stowage, 'volume_extension:backup_admin_actions:reset_status');
      const { status } = validateBody(resetStatusSchema, body)['os-reset_status'];
      const backup = await findBackup(deps, request, backupIdParam(request));
      if (status !== 'available' && status !== 'error') {
        throw badRequest(`Invalid backup: Backup status must be available or error, not ${status}.`);
      }
      deps.manager.notify(RESET_STATUS_START, backupUsagePayload(backup));
      await store.updateBackup(backup.id, { status });
      const updated = await store.getBackup(backup.id);
      if (updated) deps.manager.notify(RESET_STATUS_END, backupUsagePayload(updated));
      logger.info({ backup: backup.id, from: backup.status, to: status }, 'backup status reset');
      return reply.code(202).send();
    }
    if (action === 'os-force_delete') {
      authorize(request.stowage, 'volume_extension:backup_admin_actions:force_delete');
      validateBody(forceDeleteSchema, body);
      const backup = await findBackup(deps, request, backupIdParam(request));
      await deleteBackup(deps, backup, { force: true });
      return reply.code(202).send();
    }
    throw badRequest(`There is no such action: ${action ?? 'None'}`);
  });

  v3Route(app, 'GET', 'backups/:backup_id/export_record', async (request) => {
    authorize(request.stowage, 'backup:backup-export');
    const backup = await findBackup(deps, request, backupIdParam(request));
    if (backup.status !== 'available') throw badRequest(`Invalid backup: Backup status must be available and not ${backup.status}.`);
    const record = exportRecord(backup, manager.packageOf(backup.backend_name));
    return {
      'backup-record': {
        backup_service: `${BACKUP_SERVICE_PREFIX}${backup.service ?? 'unknown'}`,
        backup_url: Buffer.from(JSON.stringify(record)).toString('base64'),
      },
    };
  });

  v3Route(app, 'POST', 'backups/import_record', async (request, reply) => {
    authorize(request.stowage, 'backup:backup-import');
    const { backup_service: service, backup_url: url } = validateBody(importRecordSchema, request.body)['backup-record'];
    const record = decodeRecord(url);
    if (!service.startsWith(BACKUP_SERVICE_PREFIX)) {
      throw badRequest(`Invalid input received: backup_service ${service} is not a Stowage backup service (${BACKUP_SERVICE_PREFIX}<driver>)`);
    }
    const driver = service.slice(BACKUP_SERVICE_PREFIX.length);
    const existing = await store.getBackupIncludingDeleted(record.id);
    if (existing && existing.deleted === 0) throw badRequest('Invalid backup: Backup already exists in database.');
    // The backend the record names, else any backend of the same driver (another Stowage, same storage).
    const wanted = record.driver_info?.backend_name ?? null;
    const sameDriver = (host: string) => manager.backends.get(host)?.plugin.name === driver;
    const host = (wanted ? await pickHost(wanted, sameDriver) : undefined) ?? (await pickHost(null, sameDriver));
    if (!host) throw serviceUnavailable(`Service ${service} could not be found.`);
    const runtime = manager.backends.get(host)!;
    const projectId = projectOf(request);
    const parent = record.parent_id ? await store.getBackup(record.parent_id) : undefined;
    const parentId = parent && parent.backend_name === runtime.name ? parent.id : null;
    const now = nowIso();
    const row = {
      id: record.id,
      project_id: projectId,
      user_id: request.stowage.userId,
      volume_id: record.volume_id ?? NULL_VOLUME,
      host,
      availability_zone: record.availability_zone ?? runtime.availabilityZone,
      container: record.container,
      parent_id: parentId,
      status: 'creating',
      fail_reason: null,
      size: record.size,
      display_name: record.display_name ?? null,
      display_description: record.display_description ?? null,
      service_metadata: record.service_metadata,
      service: null,
      backend_name: runtime.name,
      object_count: record.object_count ?? 0,
      temp_volume_id: null,
      temp_snapshot_id: null,
      num_dependent_backups: 0,
      snapshot_id: null,
      data_timestamp: record.data_timestamp ?? now,
      restore_volume_id: null,
      metadata: JSON.stringify(record.metadata ?? {}),
      encryption_key_id: null,
      scheduling_attempts: '[]',
      created_at: now,
      updated_at: null,
      deleted: 0,
      deleted_at: null,
    };
    await quotas.reserveBackup(projectId, record.size, async () => {
      // A soft-deleted row of the same id is revived, as Cinder does.
      if (existing) {
        if (!(await store.replaceDeletedBackup(row))) throw badRequest('Invalid backup: Backup already exists in database.');
      } else {
        await store.insertBackup(row);
      }
    });
    if (parentId) await store.adjustDependentCount(parentId, 1);
    manager.importBackup(host, record.id);
    const backup = (await store.getBackup(record.id))!;
    return reply.code(201).send({ backup: backupSummary(backup, baseUrl(request)) });
  });
}

/** The self-contained record: enough to import the backup into another Stowage with the same backend. */
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
    driver_info: { format: RECORD_FORMAT, backend_name: backup.backend_name, driver: backup.service, package: driverPackage ?? null },
  };
}

function decodeRecord(url: string): BackupRecord {
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(url, 'base64').toString('utf8'));
  } catch (cause) {
    throw new ApiFault(400, "Invalid input received: Can't parse backup record.", { cause });
  }
  const parsed = backupRecordSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ApiFault(400, `Invalid input received: Can't parse backup record: ${issue.path.join('.') || 'record'} ${issue.message}.`, {
      cause: parsed.error,
    });
  }
  return parsed.data;
}

function parseStringRecord(text: string): Record<string, string> {
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return {};
    return Object.fromEntries(Object.entries(value).filter((entry): entry is [string, string] => typeof entry[1] === 'string'));
  } catch {
    return {};
  }
}

