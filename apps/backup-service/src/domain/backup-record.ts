/** What export_record encodes in `backup_url` and import_record reads back. */
import { z } from 'zod';
import { CONTAINER_NAME_PATTERN } from './container-name.js';
import { UUID_PATTERN } from './uuid.js';

/** A record is user input like any body: what it makes the service store must not hold a NUL (PostgreSQL refuses it). */
const text = () => z.string().refine((value) => !value.includes('\u0000'), { message: 'contains a NUL character' });

export const backupRecordSchema = z.looseObject({
  id: z.string().regex(UUID_PATTERN, { message: 'is not a \'uuid\'' }),
  size: z.number().int().min(0),
  display_name: text().nullable().optional(),
  display_description: text().nullable().optional(),
  // The rule the API applies to a create's container: an import must not record a name no backend can hold.
  container: z.string().regex(new RegExp(CONTAINER_NAME_PATTERN), { message: 'is not a container name every backend accepts' }),
  service_metadata: text().min(1),
  object_count: z.number().int().min(0).optional(),
  volume_id: text().nullable().optional(),
  parent_id: text().nullable().optional(),
  availability_zone: text().nullable().optional(),
  snapshot_id: text().nullable().optional(),
  data_timestamp: text().nullable().optional(),
  created_at: text().nullable().optional(),
  metadata: z.record(text(), text()).nullable().optional(),
  driver_info: z
    .looseObject({
      backend_name: text().nullable().optional(),
      driver: text().nullable().optional(),
      /** The data key of an encrypted backup (its id only). */
      encryption_key_id: z.string().regex(/^[0-9a-fA-F-]{1,36}$/, 'must be a key id (a UUID)').nullable().optional(),
    })
    .optional(),
});

export type BackupRecord = z.output<typeof backupRecordSchema>;
