/** /backups: create, list, detail, show, update (3.9), delete. Actions and export/import: backup-actions.ts. */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ApiDependencies } from '../api-deps.js';
import type { BackupSortColumn } from '../../db/store.js';
import type { BackupRow } from '../../db/tables.js';
import { nowIso } from '../../db/tables.js';
import { ApiFault, badRequest, notFound } from '../faults.js';
import { atLeast } from '../microversion.js';
import { allowed, authorize } from '../policy.js';
import { baseUrl, projectOf, scopeOf } from '../request-context.js';
import { toBoolean, validateBody } from '../validation.js';
import { backupDetail, backupSummary } from '../views.js';
import { createBackupSchema, updateBackupSchema } from './backup-schemas.js';
import { v3Route } from './register.js';

/** Cinder's osapi_max_limit. */
export const MAX_LIMIT = 1000;

const SORT_KEYS: Record<string, BackupSortColumn> = {
  id: 'id',
  status: 'status',
  size: 'size',
  availability_zone: 'availability_zone',
  name: 'display_name',
  display_name: 'display_name',
  created_at: 'created_at',
  updated_at: 'updated_at',
  volume_id: 'volume_id',
  container: 'container',
  data_timestamp: 'data_timestamp',
};

/** Look a backup up as the caller may see it: 404 for another project's backup unless admin. */
export async function findBackup(deps: ApiDependencies, request: FastifyRequest, id: string): Promise<BackupRow> {
  const backup = await deps.store.getBackup(id, scopeOf(request));
  if (!backup) throw notFound(`Backup ${id} could not be found.`);
  return backup;
}

export function backupIdParam(request: FastifyRequest): string {
  return (request.params as { backup_id: string }).backup_id;
}

function detailOf(request: FastifyRequest, backup: BackupRow) {
  const { version } = request.stowage;
  return backupDetail(backup, baseUrl(request), version, {
    projectAttribute: allowed(request.stowage, 'backup:backup_project_attribute'),
    userId: allowed(request.stowage, 'volume:backup_user_id'),
  });
}

export function registerBackupRoutes(app: FastifyInstance, deps: ApiDependencies): void {
  const { store, scheduler, logger, quotas } = deps;

  v3Route(app, 'POST', 'backups', async (request, reply) => {
    authorize(request.stowage, 'backup:create');
    const { version } = request.stowage;
    const body = validateBody(createBackupSchema(version), request.body).backup;
    const projectId = projectOf(request);
    if (body.snapshot_id) throw notFound(`Snapshot ${body.snapshot_id} could not be found.`);
    const volume = await store.getVolume(body.volume_id, request.stowage.isAdmin ? undefined : projectId);
    if (!volume) throw notFound(`Volume ${body.volume_id} could not be found.`);
    const force = toBoolean(body.force);
    const allowedStatuses = force ? ['available', 'in-use'] : ['available'];
    if (!allowedStatuses.includes(volume.status)) {
      throw badRequest(
        `Invalid volume: Volume to be backed up must be available or in-use, but the current status is "${volume.status}".`,
      );
    }
    let parentId: string | null = null;
    if (toBoolean(body.incremental)) {
      // Only the caller's own project's backups can be parents (bug 1869746).
      const parent = await store.latestBackupOfVolume(volume.id, projectId);
      if (!parent) throw badRequest('Invalid backup: No backups available to do an incremental backup.');
      if (parent.status !== 'available') throw badRequest('Invalid backup: The parent backup must be available for incremental backup.');
      parentId = parent.id;
    }
    const id = crypto.randomUUID();
    const now = nowIso();
    await quotas.reserveBackup(projectId, volume.size, async () => {
      if (!(await store.transitionVolume(volume.id, allowedStatuses, { status: 'backing-up', previous_status: volume.status }))) {
        throw badRequest(`Invalid volume: Volume ${volume.id} changed status while the backup was requested; try again.`);
      }
      await store.insertBackup({
        id,
        project_id: projectId,
        user_id: request.stowage.userId,
        volume_id: volume.id,
        host: null,
        // 3.51's availability_zone is honoured (Cinder 21.x ignored it: bug 1912624).
        availability_zone: body.availability_zone ?? null,
        container: body.container ?? null,
        parent_id: parentId,
        status: 'creating',
        fail_reason: null,
        size: volume.size,
        display_name: body.name ?? null,
        display_description: body.description ?? null,
        service_metadata: null,
        service: null,
        backend_name: null,
        object_count: 0,
        temp_volume_id: null,
        temp_snapshot_id: null,
        num_dependent_backups: 0,
        snapshot_id: null,
        data_timestamp: now,
        restore_volume_id: null,
        metadata: JSON.stringify(body.metadata ?? {}),
        encryption_key_id: null,
        scheduling_attempts: '[]',
        created_at: now,
        updated_at: null,
        deleted: 0,
        deleted_at: null,
      });
    });
    // Accepted even with no backup service up (as Cinder): the scheduler then fails it with a clear reason.
    void scheduler.scheduleCreate(id);
    const backup = (await store.getBackup(id))!;
    return reply.code(202).send({ backup: backupSummary(backup, baseUrl(request)) });
  });

  const list = (detail: boolean) =>
    async function listBackups(request: FastifyRequest) {
      authorize(request.stowage, 'backup:get_all');
      const query = request.query as Record<string, string | string[] | undefined>;
      const single = (name: string): string | undefined => {
        const value = query[name];
        return Array.isArray(value) ? value[value.length - 1] : value;
      };
      const limit = nonNegativeInt(single('limit'), 'limit');
      const offset = nonNegativeInt(single('offset'), 'offset') ?? 0;
      const marker = single('marker');
      const allTenants = allowed(request.stowage, 'backup:backup_all_tenants') && toBoolean(single('all_tenants') ?? null);
      const projectFilter = allTenants ? single('project_id') : projectOf(request);
      const rows = await store.listBackups({
        projectId: projectFilter,
        name: single('name'),
        status: single('status'),
        volumeId: single('volume_id'),
        sort: parseSort(single('sort'), single('sort_key'), single('sort_dir')),
      });
      let start = offset;
      if (marker !== undefined) {
        const index = rows.findIndex((row) => row.id === marker);
        if (index < 0) throw notFound(`Marker ${marker} could not be found.`);
        start = index + 1 + offset;
      }
      const pageSize = Math.min(limit ?? MAX_LIMIT, MAX_LIMIT);
      const page = rows.slice(start, start + pageSize);
      const base = baseUrl(request);
      const body: Record<string, unknown> = {
        backups: page.map((backup) => (detail ? detailOf(request, backup) : backupSummary(backup, base))),
      };
      // Cinder's _get_collection_links: a full page (of `limit`, or of the maximum) links to the next one.
      if (page.length > 0 && page.length === pageSize) {
        const params = new URLSearchParams();
        for (const [key, value] of Object.entries(query)) {
          if (key === 'marker' || key === 'offset' || value === undefined) continue;
          for (const item of Array.isArray(value) ? value : [value]) params.append(key, item);
        }
        params.set('marker', page[page.length - 1]!.id);
        const path = (request.url.split('?')[0] ?? '').replace(/^\/v3\/(?:[^/]+\/)?backups/, `/v3/${projectOf(request)}/backups`);
        body.backups_links = [{ rel: 'next', href: `${base}${path}?${params.toString()}` }];
      }
      if (atLeast(request.stowage.version, 45) && toBoolean(single('with_count') ?? null)) body.count = rows.length;
      return body;
    };
  v3Route(app, 'GET', 'backups', list(false));
  v3Route(app, 'GET', 'backups/detail', list(true));

  v3Route(app, 'GET', 'backups/:backup_id', async (request) => {
    authorize(request.stowage, 'backup:get');
    const backup = await findBackup(deps, request, backupIdParam(request));
    return { backup: detailOf(request, backup) };
  });

  v3Route(app, 'PUT', 'backups/:backup_id', async (request) => {
    const { version } = request.stowage;
    if (!atLeast(version, 9)) throw notFound('The resource could not be found.');
    authorize(request.stowage, 'backup:update');
    const body = validateBody(updateBackupSchema(version), request.body).backup;
    const backup = await findBackup(deps, request, backupIdParam(request));
    const patch: Parameters<typeof store.updateBackup>[1] = {};
    if (body.name !== undefined) patch.display_name = body.name;
    if (body.description !== undefined) patch.display_description = body.description;
    if (body.metadata !== undefined) patch.metadata = JSON.stringify(body.metadata ?? {});
    if (Object.keys(patch).length > 0) await store.updateBackup(backup.id, patch);
    const updated = (await store.getBackup(backup.id))!;
    return { backup: backupSummary(updated, baseUrl(request)) };
  });

  v3Route(app, 'DELETE', 'backups/:backup_id', async (request, reply) => {
    authorize(request.stowage, 'backup:delete');
    const backup = await findBackup(deps, request, backupIdParam(request));
    await deleteBackup(deps, backup, { force: false });
    logger.debug({ backup: backup.id }, 'delete accepted');
    return reply.code(202).send();
  });
}

/**
 * Cinder's delete rules (reference 2.2): `available` or `error` unless forced, no incremental children, an up
 * backend of the backup's backend name; a backup that never reached a backend is deleted by the API itself.
 */
export async function deleteBackup(deps: ApiDependencies, backup: BackupRow, options: { force: boolean }): Promise<void> {
  const { store, manager, config } = deps;
  const deletable = ['available', 'error'];
  if (!options.force && !deletable.includes(backup.status)) {
    throw badRequest('Invalid backup: Backup status must be available or error');
  }
  if (backup.status === 'deleting' || backup.status === 'restoring') {
    // A restore reads the data and a delete is already running: neither may be cut short (Cinder refuses too).
    throw badRequest(`Invalid backup: Backup status must be available or error, not ${backup.status}`);
  }
  if ((await store.countChildren(backup.id)) > 0) throw badRequest('Invalid backup: Incremental backups exist for this backup.');
  const expected = options.force ? [backup.status] : deletable;

  if (backup.service === null && backup.status !== 'creating') {
    // Never reached a backend: nothing to delete there, so no backup service is needed (the spec's promise).
    if (!(await store.updateBackup(backup.id, { status: 'deleting' }, { status: expected }))) {
      throw badRequest('Invalid backup: Backup status must be available or error');
    }
    await manager.finishDelete({ ...backup, status: 'deleting' }, { announceStart: true });
    return;
  }

  if (backup.status === 'creating' && backup.host === null) {
    // Accepted but not scheduled yet: taking it out of `creating` first means no scheduler can claim it after.
    if (!(await store.updateBackup(backup.id, { status: 'deleting' }, { status: ['creating'], host: null }))) {
      throw badRequest('Invalid backup: the backup was scheduled meanwhile; try again');
    }
    await store.restoreVolumeAfterBackup(backup.volume_id);
    await manager.finishDelete({ ...backup, status: 'deleting' }, { announceStart: true });
    return;
  }

  const candidates = (
    await store.upServices({ serviceDownTimeMs: config.serviceDownTimeMs, backendName: backup.backend_name ?? undefined })
  ).filter((service) => manager.serves(service.host));
  // A running create must be stopped where it runs; any up backend of the backup's backend name deletes otherwise.
  const host =
    backup.status === 'creating'
      ? candidates.find((service) => service.host === backup.host)?.host
      : candidates[Math.floor(Math.random() * candidates.length)]?.host;
  if (!host) throw notFound('Service cinder-backup could not be found.');
  if (!(await store.updateBackup(backup.id, { status: 'deleting', host }, { status: expected }))) {
    throw badRequest('Invalid backup: Backup status must be available or error');
  }
  if (options.force) manager.forceDeleteBackup(host, backup.id);
  else manager.deleteBackup(host, backup.id);
}

function nonNegativeInt(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^-?\d+$/.test(value.trim())) throw badRequest(`${name} param must be an integer`);
  const number = Number(value);
  if (number < 0) throw badRequest(`${name} param must be positive`);
  return number;
}

function parseSort(sort: string | undefined, sortKey: string | undefined, sortDir: string | undefined) {
  const pairs: Array<readonly [BackupSortColumn, 'asc' | 'desc']> = [];
  const entries = sort !== undefined
    ? sort.split(',').map((item) => item.trim().split(':'))
    : sortKey !== undefined
      ? sortKey.split(',').map((key, index) => [key.trim(), sortDir?.split(',')[index]?.trim() ?? sortDir ?? 'desc'])
      : [];
  for (const [key = '', direction = 'desc'] of entries) {
    const column = SORT_KEYS[key];
    if (!column) throw new ApiFault(400, `Invalid input received: Invalid sort key ${key}`);
    const dir = direction.toLowerCase();
    if (dir !== 'asc' && dir !== 'desc') throw new ApiFault(400, `Invalid input received: Unknown sort direction, must be 'desc' or 'asc'`);
    pairs.push([column, dir]);
  }
  return pairs;
}
