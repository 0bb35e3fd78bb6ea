/** /backups: create, list, detail, show, update (3.9), delete. Actions and export/import: backup-actions.ts. */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ApiDependencies } from '../api-deps.js';
import type { BackupSortColumn } from '../../db/store.js';
import type { BackupRow } from '../../db/tables.js';
import { updateBackup } from '../../operations/backup-admin.js';
import { createBackup } from '../../operations/backup-create.js';
import { deleteBackup } from '../../operations/backup-delete.js';
import { findBackup, listBackups } from '../../operations/backup-queries.js';
import { ApiFault, badRequest, notFound } from '../faults.js';
import { atLeast } from '../microversion.js';
import { allowed, authorize } from '../policy.js';
import { baseUrl, callerOf, projectOf } from '../request-context.js';
import { toBoolean, validateBody } from '../validation.js';
import { backupDetail, backupSummary } from '../views.js';
import { createBackupSchema, updateBackupSchema } from './backup-schemas.js';
import { v3Route } from './register.js';

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

export function backupIdParam(request: FastifyRequest): string {
  return (request.params as { backup_id: string }).backup_id;
}

function detailOf(request: FastifyRequest, backup: BackupRow) {
  const { version } = request.stowage;
  return backupDetail(backup, baseUrl(request), version, {
    projectAttribute: allowed(request.stowage, 'backup:backup_project_attribute'),
    userId: allowed(request.stowage, 'volume:backup_user_id'),
    failReasonDetail: request.stowage.isAdmin,
  });
}

export function registerBackupRoutes(app: FastifyInstance, deps: ApiDependencies): void {
  const { operations, logger } = deps;

  v3Route(app, 'POST', 'backups', async (request, reply: FastifyReply) => {
    authorize(request.stowage, 'backup:create');
    const body = validateBody(createBackupSchema(request.stowage.version), request.body).backup;
    const backup = await createBackup(operations, callerOf(request), {
      volumeId: body.volume_id,
      name: body.name ?? null,
      description: body.description ?? null,
      container: body.container ?? null,
      incremental: toBoolean(body.incremental),
      force: toBoolean(body.force),
      snapshotId: body.snapshot_id ?? null,
      metadata: body.metadata ?? {},
      availabilityZone: body.availability_zone ?? null,
    });
    return reply.code(202).send({ backup: backupSummary(backup, baseUrl(request)) });
  });

  const list = (detail: boolean) =>
    async function listBackupsRoute(request: FastifyRequest) {
      authorize(request.stowage, 'backup:get_all');
      const query = request.query as Record<string, string | string[] | undefined>;
      const single = (name: string): string | undefined => {
        const value = query[name];
        return Array.isArray(value) ? value[value.length - 1] : value;
      };
      const limit = nonNegativeInt(single('limit'), 'limit');
      const offset = nonNegativeInt(single('offset'), 'offset') ?? 0;
      const allTenants = allowed(request.stowage, 'backup:backup_all_tenants') && toBoolean(single('all_tenants') ?? null);
      const { backups: page, total, pageSize } = await listBackups(operations, {
        projectId: allTenants ? single('project_id') : projectOf(request),
        name: single('name'),
        status: single('status'),
        volumeId: single('volume_id'),
        sort: parseSort(single('sort'), single('sort_key'), single('sort_dir')),
        limit,
        offset,
        marker: single('marker'),
      });
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
      if (atLeast(request.stowage.version, 45) && toBoolean(single('with_count') ?? null)) body.count = total;
      return body;
    };
  v3Route(app, 'GET', 'backups', list(false));
  v3Route(app, 'GET', 'backups/detail', list(true));

  v3Route(app, 'GET', 'backups/:backup_id', async (request) => {
    authorize(request.stowage, 'backup:get');
    return { backup: detailOf(request, await findBackup(operations, callerOf(request), backupIdParam(request))) };
  });

  v3Route(app, 'PUT', 'backups/:backup_id', async (request) => {
    const { version } = request.stowage;
    if (!atLeast(version, 9)) throw notFound('The resource could not be found.');
    authorize(request.stowage, 'backup:update');
    const body = validateBody(updateBackupSchema(version), request.body).backup;
    const updated = await updateBackup(operations, callerOf(request), backupIdParam(request), body);
    return { backup: backupSummary(updated, baseUrl(request)) };
  });

  v3Route(app, 'DELETE', 'backups/:backup_id', async (request, reply) => {
    authorize(request.stowage, 'backup:delete');
    const id = backupIdParam(request);
    await deleteBackup(operations, callerOf(request), id, { force: false });
    logger.debug({ backup: id }, 'delete accepted');
    return reply.code(202).send();
  });
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
