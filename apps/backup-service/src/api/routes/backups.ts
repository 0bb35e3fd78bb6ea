import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { ApiDependencies } from '../api-deps.js';
import { nowIso } from '../../db/tables.js';
import { badRequest, notFound } from '../faults.js';
import { atLeast } from '../microversion.js';
import { baseUrl, projectOf } from '../request-context.js';
import { backupDetail, backupSummary } from '../views.js';
import { v3Route } from './register.js';

const createBackupBody = z.object({
  backup: z.looseObject({
    volume_id: z.string({ error: 'volume_id is required' }).min(1),
    container: z.string().max(255).nullish(),
    name: z.string().max(255).nullish(),
    description: z.string().max(255).nullish(),
    incremental: z.boolean().nullish(),
    force: z.boolean().nullish(),
    snapshot_id: z.string().nullish(),
    metadata: z.record(z.string(), z.string()).nullish(),
    availability_zone: z.string().nullish(),
  }),
});

const listQuery = z.object({
  name: z.string().optional(),
  status: z.string().optional(),
  volume_id: z.string().optional(),
  all_tenants: z.string().optional(),
  limit: z.coerce.number().int().min(0).optional(),
  offset: z.coerce.number().int().min(0).optional(),
});

export function registerBackupRoutes(app: FastifyInstance, deps: ApiDependencies): void {
  const { store, manager, scheduler, config, logger } = deps;

  v3Route(app, 'POST', 'backups', async (request, reply) => {
    const parsed = createBackupBody.safeParse(request.body);
    if (!parsed.success) {
      throw badRequest(`Invalid input for field/attribute backup. ${parsed.error.issues.map((issue) => issue.message).join('; ')}`);
    }
    const body = parsed.data.backup;
    const { version } = request.stowage;
    const projectId = projectOf(request);
    if (body.snapshot_id) throw badRequest('Invalid input received: backups of snapshots are not supported yet.');
    const volume = await store.getVolume(body.volume_id, projectId);
    if (!volume) throw notFound(`Volume ${body.volume_id} could not be found.`);
    const allowed = body.force ? ['available', 'in-use'] : ['available'];
    if (!allowed.includes(volume.status)) {
      throw badRequest(
        `Invalid volume: Volume to be backed up must be available or in-use, but the current status is "${volume.status}".`,
      );
    }
    let parentId: string | null = null;
    if (body.incremental) {
      const parent = await store.latestBackupOfVolume(volume.id, projectId);
      if (!parent) throw badRequest('Invalid backup: No backups available to do an incremental backup.');
      if (parent.status !== 'available') throw badRequest('Invalid backup: The parent backup must be available for incremental backup.');
      parentId = parent.id;
    }
    if (!(await store.transitionVolume(volume.id, allowed, { status: 'backing-up', previous_status: volume.status }))) {
      throw badRequest(`Invalid volume: Volume ${volume.id} changed status while the backup was requested; try again.`);
    }
    const id = crypto.randomUUID();
    const now = nowIso();
    await store.insertBackup({
      id,
      project_id: projectId,
      user_id: request.stowage.userId,
      volume_id: volume.id,
      host: null,
      // 3.51's availability_zone is honoured (Cinder 21.x ignored it: bug 1912624).
      availability_zone: (atLeast(version, 51) ? body.availability_zone : null) ?? null,
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
      metadata: JSON.stringify((atLeast(version, 43) ? body.metadata : null) ?? {}),
      encryption_key_id: null,
      scheduling_attempts: '[]',
      created_at: now,
      updated_at: null,
      deleted: 0,
      deleted_at: null,
    });
    // Accepted even with no backup service up (as Cinder): the scheduler then fails it with a clear reason.
    void scheduler.scheduleCreate(id);
    const backup = (await store.getBackup(id))!;
    return reply.code(202).send({ backup: backupSummary(backup, baseUrl(request)) });
  });

  const list = (detail: boolean) =>
    async function listBackups(request: FastifyRequest) {
      const parsed = listQuery.safeParse(request.query);
      if (!parsed.success) throw badRequest(`Invalid input received: ${parsed.error.issues[0]?.message ?? 'bad query'}`);
      const query = parsed.data;
      const allTenants = request.stowage.isAdmin && ['1', 'true', 'True'].includes(query.all_tenants ?? '');
      const backups = await store.listBackups({
        projectId: allTenants ? undefined : projectOf(request),
        name: query.name,
        status: query.status,
        volumeId: query.volume_id,
        limit: query.limit,
        offset: query.offset,
      });
      const base = baseUrl(request);
      return {
        backups: backups.map((backup) =>
          detail ? backupDetail(backup, base, request.stowage.version, request.stowage.isAdmin) : backupSummary(backup, base),
        ),
      };
    };
  v3Route(app, 'GET', 'backups', list(false));
  v3Route(app, 'GET', 'backups/detail', list(true));

  v3Route(app, 'GET', 'backups/:backup_id', async (request) => {
    const { backup_id: id } = request.params as { backup_id: string };
    const backup = await store.getBackup(id, request.stowage.isAdmin ? undefined : projectOf(request));
    if (!backup) throw notFound(`Backup ${id} could not be found.`);
    return { backup: backupDetail(backup, baseUrl(request), request.stowage.version, request.stowage.isAdmin) };
  });

  v3Route(app, 'DELETE', 'backups/:backup_id', async (request, reply) => {
    const { backup_id: id } = request.params as { backup_id: string };
    const backup = await store.getBackup(id, request.stowage.isAdmin ? undefined : projectOf(request));
    if (!backup) throw notFound(`Backup ${id} could not be found.`);
    if (backup.status !== 'available' && backup.status !== 'error') {
      throw badRequest('Invalid backup: Backup status must be available or error');
    }
    if ((await store.countChildren(id)) > 0) throw badRequest('Invalid backup: Incremental backups exist for this backup.');

    if (backup.status === 'error' && backup.service === null) {
      // Never reached a backend: nothing to delete there, so no backup service is needed (the spec's promise).
      if (!(await store.updateBackup(id, { status: 'deleting' }, { status: ['error'] }))) {
        throw badRequest('Invalid backup: Backup status must be available or error');
      }
      await manager.finishDelete({ ...backup, status: 'deleting' }, { announceStart: true });
      logger.info({ backup: id }, 'deleted a backup that never reached a backend');
      return reply.code(202).send();
    }

    const candidates = (
      await store.upServices({ serviceDownTimeMs: config.serviceDownTimeMs, backendName: backup.backend_name ?? undefined })
    ).filter((service) => manager.serves(service.host));
    const host = candidates[Math.floor(Math.random() * candidates.length)]?.host;
    if (!host) throw notFound('Service cinder-backup could not be found.');
    if (!(await store.updateBackup(id, { status: 'deleting', host }, { status: ['available', 'error'] }))) {
      throw badRequest('Invalid backup: Backup status must be available or error');
    }
    manager.deleteBackup(host, id);
    return reply.code(202).send();
  });

}
