/** Request bodies of /volumes, mirroring cinder/api/schemas/volumes.py and volume_actions.py. */
import { z } from 'zod';
import { cinderBoolean, metadata, nullableText } from '../validation.js';

const nullableId = z.string().nullable().optional();

// Cinder ignores keys it does not know in a volume create (cinder-tempest-plugin's CreateVolumesFromBackupTest
// sends a literal "'backup_id" key), so this one object is loose; known keys are still type-checked.
export const createVolumeSchema = z.looseObject({
  volume: z.looseObject({
    size: z.unknown().optional(),
    name: nullableText.optional(),
    description: nullableText.optional(),
    display_name: nullableText.optional(),
    display_description: nullableText.optional(),
    volume_type: nullableId,
    snapshot_id: nullableId,
    source_volid: nullableId,
    consistencygroup_id: nullableId,
    group_id: nullableId,
    backup_id: nullableId,
    image_id: nullableId,
    imageRef: nullableId,
    availability_zone: nullableText.optional(),
    multiattach: cinderBoolean.nullable().optional(),
    metadata: metadata.optional(),
  }),
  'OS-SCH-HNT:scheduler_hints': z.record(z.string(), z.unknown()).nullable().optional(),
});

export const updateVolumeSchema = z.strictObject({
  volume: z.strictObject({
    name: nullableText.optional(),
    description: nullableText.optional(),
    display_name: nullableText.optional(),
    display_description: nullableText.optional(),
    metadata: metadata.optional(),
  }),
});

export const extendSchema = z.strictObject({
  'os-extend': z.strictObject({ new_size: z.union([z.int().min(1), z.string().regex(/^[0-9]+$/)]) }),
});
