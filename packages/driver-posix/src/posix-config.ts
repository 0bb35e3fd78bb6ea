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
    fsync: z
      .boolean()
      .default(true)
      .describe('fsync each object and its folder before reporting it stored. Turn off only for throwaway tests.'),
  })
  .strict();

export type PosixOptions = z.output<typeof posixOptionsSchema>;
