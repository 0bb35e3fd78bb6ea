/**
 * Options of a Google Cloud Storage backend (`backends[].options`). Names follow Cinder's `backup_gcs_*` options
 * without the prefix where one exists.
 */
import { z } from 'zod';

export const gcsOptionsSchema = z
  .object({
    /** Project that owns the bucket (Cinder's `backup_gcs_project_id`); needed only to create buckets. */
    project_id: z.string().min(1).optional(),
    /** Bucket used when a backup names none (Cinder's `backup_gcs_bucket`). GCS's naming rules. */
    bucket: z
      .string()
      .regex(/^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$/, 'must be 3-222 lowercase letters, digits, "-", "_" or ".", starting and ending with a letter or digit')
      .default('volumebackups'),
    /**
     * A service-account key file (JSON), Cinder's `backup_gcs_credential_file`. Omit to use the application default
     * credentials (GOOGLE_APPLICATION_CREDENTIALS, gcloud's, or the metadata server). The key is never logged.
     */
    credentials_file: z.string().min(1).optional(),
    /** Send no credentials at all: for emulators (and public buckets). */
    anonymous: z.boolean().default(false),
    /** JSON API endpoint, for emulators and private endpoints, e.g. http://127.0.0.1:9199. */
    api_endpoint: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL, e.g. https://storage.googleapis.com' }).optional(),
    /** Universe of a Trusted Partner Cloud; a service-account key then signs its own tokens (no token exchange). */
    universe_domain: z.string().min(1).optional(),
    /** Create the default bucket when it is missing (needs storage.buckets.create). Off: a missing bucket is a setup error. */
    create_bucket: z.boolean().default(false),
    /** Storage class and location of a bucket this driver creates (Cinder's `backup_gcs_storage_class` / `_bucket_location`). */
    storage_class: z.enum(['STANDARD', 'NEARLINE', 'COLDLINE', 'ARCHIVE']).optional(),
    location: z.string().min(1).optional(),
    /** Prepended to every object name, e.g. `stowage/`: several services (or other data) can share one bucket. */
    object_prefix: z
      .string()
      .refine((prefix) => !prefix.startsWith('/'), 'must not start with "/"')
      .default(''),
    /** Checksum sent with every upload for the service to verify, and compared with what it stored. */
    checksum: z.enum(['md5', 'crc32c']).default('md5'),
    /** Seconds one request may take (Cinder's `backup_gcs_timeout`-like); a download may stall this long. */
    timeout: z.number().positive().max(3600).default(60),
    /** Attempts per request, the first included, on 429, 5xx, timeouts and dropped connections (Cinder's `backup_gcs_num_retries`). */
    retry_attempts: z.number().int().min(1).max(20).default(4),
    /** Seconds before the second attempt, doubled before each next one. */
    retry_backoff: z.number().min(0).max(60).default(0.5),
    /** Objects the engine uploads at once. */
    concurrency: z.number().int().min(1).max(64).default(4),
    /** Largest object (the engine's chunks stay below it): each goes up in one request, never a multi-chunk upload. */
    max_object_size: z.number().int().min(1024 * 1024).max(5 * 1024 * 1024 * 1024).default(128 * 1024 * 1024),
  })
  .strict()
  .superRefine((options, ctx) => {
    if (options.anonymous && options.credentials_file !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['anonymous'], message: 'anonymous and credentials_file exclude each other: pick one' });
    }
    if (options.anonymous && options.api_endpoint === undefined) {
      ctx.addIssue({ code: 'custom', path: ['anonymous'], message: 'is for emulators: set api_endpoint too (Google Cloud Storage itself needs credentials)' });
    }
    for (const field of ['storage_class', 'location'] as const) {
      if (options[field] !== undefined && !options.create_bucket) {
        ctx.addIssue({ code: 'custom', path: [field], message: 'is only used when creating the bucket: set create_bucket: true or remove it' });
      }
    }
  });

export type GcsOptions = z.output<typeof gcsOptionsSchema>;
export type GcsOptionsInput = z.input<typeof gcsOptionsSchema>;
