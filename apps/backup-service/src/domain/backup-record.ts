/** What export_record encodes in `backup_url` and import_record reads back. */
import { z } from 'zod';
import { UUID_PATTERN } from './uuid.js';

export const backupRecordSchema = z.looseObject({
  id: z.string().regex(UUID_PATTERN, { message: 'is not a \'uuid\'' }),
  size: z.number().int().min(0),
  display_name: z.string().nullable().optional(),
  display_description: z.string().nullable().optional(),
  container: z.string().min(1),
  service_metadata: z.string().min(1),
  object_count: z.number().int().min(0).optional(),
  volume_id: z.string().nullable().optional(),
  parent_id: z.string().nullable().optional(),
  availability_zone: z.string().nullable().optional(),
  snapshot_id: z.string().nullable().optional(),
  data_timestamp: z.string().nullable().optional(),
  created_at: z.string().nullable().optional(),
  metadata: z.record(z.string(), z.string()).nullable().optional(),
  driver_info: z
    .looseObject({ backend_name: z.string().nullable().optional(), driver: z.string().nullable().optional() })
    .optional(),
});

export type BackupRecord = z.output<typeof backupRecordSchema>;
