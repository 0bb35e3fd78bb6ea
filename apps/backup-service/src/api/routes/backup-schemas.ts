/** Request bodies of /backups, mirroring cinder/api/schemas/backups.py (additionalProperties: false throughout). */
import { z } from 'zod';
import { atLeast, type Microversion } from '../microversion.js';
import { CONTAINER_NAME_PATTERN } from '../../domain/container-name.js';
import { cinderBoolean, metadata, nullableText, uuid } from '../validation.js';

/** Cinder's container (string or null, at most 255) limited to the names every driver accepts (jsonschema's pattern message). */
const container = z.string().max(255).regex(new RegExp(CONTAINER_NAME_PATTERN), { message: `does not match '${CONTAINER_NAME_PATTERN}'` }).nullable();

const createFields = {
  volume_id: uuid,
  container: container.optional(),
  description: nullableText.optional(),
  incremental: cinderBoolean.optional(),
  force: cinderBoolean.optional(),
  name: nullableText.optional(),
  snapshot_id: uuid.nullable().optional(),
};

const create = z.strictObject({ backup: z.strictObject(createFields) });
const create343 = z.strictObject({ backup: z.strictObject({ ...createFields, metadata: metadata.optional() }) });
const create351 = z.strictObject({
  backup: z.strictObject({ ...createFields, metadata: metadata.optional(), availability_zone: nullableText.optional() }),
});

export type CreateBackupBody = z.output<typeof create351>['backup'];

export function createBackupSchema(version: Microversion): z.ZodType<{ backup: CreateBackupBody }> {
  return atLeast(version, 51) ? create351 : atLeast(version, 43) ? create343 : create;
}

const updateFields = { name: nullableText.optional(), description: nullableText.optional() };
const update = z.strictObject({ backup: z.strictObject(updateFields) });
const update343 = z.strictObject({ backup: z.strictObject({ ...updateFields, metadata: metadata.optional() }) });

export type UpdateBackupBody = z.output<typeof update343>['backup'];

export function updateBackupSchema(version: Microversion): z.ZodType<{ backup: UpdateBackupBody }> {
  return atLeast(version, 43) ? update343 : update;
}

export const restoreSchema = z.strictObject({
  restore: z.strictObject({ name: nullableText.optional(), volume_id: uuid.nullable().optional() }).nullable(),
});

export const importRecordSchema = z.strictObject({
  'backup-record': z.strictObject({ backup_service: z.string().max(255), backup_url: z.string() }),
});

export const resetStatusSchema = z.strictObject({
  'os-reset_status': z.strictObject({ status: z.string() }),
});

export const forceDeleteSchema = z.strictObject({ 'os-force_delete': z.object({}).nullable() });

export { backupRecordSchema, type BackupRecord } from '../../domain/backup-record.js';
