/** Backup actions: restore, os-reset_status, os-force_delete, export_record and import_record. */
import type { FastifyInstance } from 'fastify';
import type { ApiDependencies } from '../api-deps.js';
import { backupRecordSchema, type BackupRecord } from '../../domain/backup-record.js';
import { resetBackupStatus } from '../../operations/backup-admin.js';
import { deleteBackup } from '../../operations/backup-delete.js';
import { BACKUP_SERVICE_PREFIX, exportBackupRecord, importBackupRecord } from '../../operations/backup-records.js';
import { restoreBackupWithinQuota } from '../../operations/restore-within-quota.js';
import { ApiFault, badRequest } from '../faults.js';
import { authorize } from '../policy.js';
import { baseUrl, callerOf } from '../request-context.js';
import { validateBody } from '../validation.js';
import { backupSummary } from '../views.js';
import { forceDeleteSchema, importRecordSchema, resetStatusSchema, restoreSchema } from './backup-schemas.js';
import { backupIdParam } from './backups.js';
import { v3Route } from './register.js';

export function registerBackupActionRoutes(app: FastifyInstance, deps: ApiDependencies): void {
  const { operations } = deps;

  v3Route(app, 'POST', 'backups/:backup_id/restore', async (request, reply) => {
    authorize(request.stowage, 'backup:restore');
    const body = validateBody(restoreSchema, request.body).restore ?? {};
    const restore = await restoreBackupWithinQuota(operations, callerOf(request), backupIdParam(request), {
      volumeId: body.volume_id ?? null,
      name: body.name ?? null,
    });
    return reply.code(202).send({ restore });
  });

  v3Route(app, 'POST', 'backups/:backup_id/action', async (request, reply) => {
    const body = request.body;
    const action = typeof body === 'object' && body !== null ? Object.keys(body)[0] : undefined;
    if (action === 'os-reset_status') {
      authorize(request.stowage, 'volume_extension:backup_admin_actions:reset_status');
      const { status } = validateBody(resetStatusSchema, body)['os-reset_status'];
      await resetBackupStatus(operations, callerOf(request), backupIdParam(request), status);
      return reply.code(202).send();
    }
    if (action === 'os-force_delete') {
      authorize(request.stowage, 'volume_extension:backup_admin_actions:force_delete');
      validateBody(forceDeleteSchema, body);
      await deleteBackup(operations, callerOf(request), backupIdParam(request), { force: true });
      return reply.code(202).send();
    }
    throw badRequest(`There is no such action: ${action ?? 'None'}`);
  });

  v3Route(app, 'GET', 'backups/:backup_id/export_record', async (request) => {
    authorize(request.stowage, 'backup:backup-export');
    const { service, record } = await exportBackupRecord(operations, callerOf(request), backupIdParam(request));
    return {
      'backup-record': {
        backup_service: `${BACKUP_SERVICE_PREFIX}${service ?? 'unknown'}`,
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
    const backup = await importBackupRecord(operations, callerOf(request), {
      backupService: service,
      driverName: service.slice(BACKUP_SERVICE_PREFIX.length),
      record,
    });
    return reply.code(201).send({ backup: backupSummary(backup, baseUrl(request)) });
  });
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
