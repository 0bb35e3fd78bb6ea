import { z } from 'zod';

export const posixOptionsSchema = z
  .object({
    path: z
      .string({ error: 'path is required: the folder that holds the backups, e.g. /var/lib/stowage/backups' })
      .min(1, 'path must not be empty: the folder that holds the backups'),
    create_path: z.boolean().default(true).describe('Create `path` (and parents) at setup when it does not exist.'),
    container: z
      .string()
      .regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,254}$/, 'container must be a plain folder name (letters, digits, _ . -)')
      .default('backups'),
    stale_temp_after_seconds: z
      .number()
      .int()
      .min(60, 'stale_temp_after_seconds must be at least 60: a live write must never look stale')
      .optional()
      .describe(
        'At setup, remove temporary files and empty folders left by crashed writes once untouched for this long (default 3600).',
      ),
    fsync: z
      .boolean()
      .default(true)
      .describe('fsync each object and its folder before reporting it stored. Turn off only for throwaway tests.'),
  })
  .strict();

export type PosixOptions = z.output<typeof posixOptionsSchema>;
