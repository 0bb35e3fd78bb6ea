/**
 * Options of an S3 backend (`backends[].options`). Names follow Cinder's `backup_s3_*` options without the prefix.
 */
import { z } from 'zod';

const MiB = 1024 * 1024;

export const s3OptionsSchema = z
  .object({
    /** Endpoint of an S3-compatible service (Cinder's `backup_s3_endpoint_url`); omit for AWS itself. */
    endpoint: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL, e.g. http://127.0.0.1:8080' }).optional(),
    region: z.string().min(1).default('us-east-1'),
    /** `http://host/bucket/key` instead of `http://bucket.host/key`; most non-AWS services need it. */
    force_path_style: z.boolean().default(false),
    /** Bucket used when a backup names none (Cinder's `backup_s3_store_bucket`). */
    bucket: z
      .string()
      .min(1)
      .max(255)
      .refine((name) => !name.includes('/'), 'a bucket name cannot contain "/"')
      .default('volumebackups'),
    /** Create missing buckets. Off: a missing bucket is a setup error. */
    create_bucket: z.boolean().default(true),
    /**
     * Static credentials (Cinder's `backup_s3_store_access_key` / `_secret_key`). Omit all of them to use the
     * SDK's default chain (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, profiles, instance roles).
     */
    access_key: z.string().min(1).optional(),
    secret_key: z.string().min(1).optional(),
    /** Name of an environment variable holding the secret key, instead of `secret_key`. */
    secret_key_env: z.string().min(1).optional(),
    session_token: z.string().min(1).optional(),
    /** Server-side encryption by the service: `AES256` or `aws:kms`. */
    sse: z.enum(['AES256', 'aws:kms']).optional(),
    sse_kms_key_id: z.string().min(1).optional(),
    /** SSE-C: a base64 256-bit key the service encrypts with and needs again to read (Cinder's `backup_s3_sse_customer_key`). */
    sse_customer_key: z
      .string()
      .refine((key) => Buffer.from(key, 'base64').length === 32, 'must be a base64-encoded 32-byte key')
      .optional(),
    sse_customer_key_env: z.string().min(1).optional(),
    /** Seconds a request may take (Cinder's `backup_s3_timeout`). */
    timeout: z.number().positive().max(3600).default(60),
    /** Seconds to wait for a connection. */
    connect_timeout: z.number().positive().max(600).default(10),
    /** Total attempts per request, first included (Cinder's `backup_s3_retry_max_attempts`). */
    retry_max_attempts: z.number().int().min(1).max(20).default(4),
    /** The SDK's retry strategy (Cinder's `legacy` has no SDK v3 equivalent; `standard` is the closest). */
    retry_mode: z.enum(['standard', 'adaptive']).default('standard'),
    /** Send Content-MD5 on uploads so the service verifies the bytes (Cinder's `backup_s3_md5_validation`). */
    md5_validation: z.boolean().default(true),
    /** Objects larger than this go up as multipart uploads. */
    multipart_threshold: z.number().int().min(5 * MiB).default(64 * MiB),
    /** Part size of multipart uploads (S3's minimum is 5 MiB). */
    multipart_part_size: z.number().int().min(5 * MiB).max(5 * 1024 * MiB).default(16 * MiB),
    /** Parts of one multipart upload sent at once. */
    multipart_concurrency: z.number().int().min(1).max(32).default(4),
    /** Objects uploaded at once by the engine. */
    concurrency: z.number().int().min(1).max(64).default(4),
    /** Keys per listing page (S3 caps it at 1000). */
    listing_page_size: z.number().int().min(1).max(1000).default(1000),
  })
  .strict()
  .superRefine((options, ctx) => {
    const secrets = [options.secret_key, options.secret_key_env].filter((value) => value !== undefined).length;
    if (secrets > 1) ctx.addIssue({ code: 'custom', path: ['secret_key'], message: 'give only one of secret_key, secret_key_env' });
    if (options.access_key !== undefined && secrets === 0) {
      ctx.addIssue({ code: 'custom', path: ['secret_key'], message: 'access_key needs secret_key or secret_key_env' });
    }
    if (options.access_key === undefined && secrets > 0) {
      ctx.addIssue({ code: 'custom', path: ['access_key'], message: 'secret_key needs access_key' });
    }
    if (options.sse_kms_key_id !== undefined && options.sse !== 'aws:kms') {
      ctx.addIssue({ code: 'custom', path: ['sse_kms_key_id'], message: 'sse_kms_key_id needs sse: aws:kms' });
    }
    if (options.sse_customer_key !== undefined && options.sse_customer_key_env !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['sse_customer_key'], message: 'give only one of sse_customer_key, sse_customer_key_env' });
    }
    if (options.sse !== undefined && (options.sse_customer_key !== undefined || options.sse_customer_key_env !== undefined)) {
      ctx.addIssue({ code: 'custom', path: ['sse'], message: 'sse and sse_customer_key exclude each other: pick one kind of encryption' });
    }
    if (options.multipart_part_size > options.multipart_threshold) {
      ctx.addIssue({ code: 'custom', path: ['multipart_part_size'], message: 'must not exceed multipart_threshold' });
    }
  });

export type S3Options = z.output<typeof s3OptionsSchema>;
export type S3OptionsInput = z.input<typeof s3OptionsSchema>;
