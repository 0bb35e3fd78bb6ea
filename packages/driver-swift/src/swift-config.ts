/**
 * Options of a Swift backend (`backends[].options`). Names follow Cinder's `backup_swift_*` options without the
 * prefix, so an operator coming from Cinder recognises them.
 */
import { z } from 'zod';

const secret = z.string().min(1);

export const swiftOptionsSchema = z
  .object({
    /** Auth endpoint: tempauth `http://proxy:8080/auth/v1.0`, or Keystone `https://keystone:5000/v3`. */
    auth_url: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL, e.g. http://127.0.0.1:8080/auth/v1.0' }),
    /** `1` = tempauth/swauth (X-Auth-User/X-Auth-Key); `3` = Keystone v3. Cinder's `backup_swift_auth_version`. */
    auth_version: z.enum(['1', '3']).default('1'),
    /** v1: `account:user`; v3: the user name (with password auth). */
    user: z.string().min(1).optional(),
    /** v1: the key; v3: the password. Prefer `key_env` or `key_file` so the secret stays out of the config. */
    key: secret.optional(),
    /** Name of an environment variable holding the key/password. */
    key_env: z.string().min(1).optional(),
    /** Path of a file holding the key/password (trailing newline ignored). */
    key_file: z.string().min(1).optional(),
    /** Keystone v3: domain of the user (name). */
    user_domain_name: z.string().min(1).default('Default'),
    /** Keystone v3: project to scope the token to (Cinder's `backup_swift_project`). */
    project_name: z.string().min(1).optional(),
    project_id: z.string().min(1).optional(),
    project_domain_name: z.string().min(1).default('Default'),
    /** Keystone v3 application credential, instead of user/password. */
    application_credential_id: z.string().min(1).optional(),
    application_credential_secret: secret.optional(),
    application_credential_secret_env: z.string().min(1).optional(),
    /** Keystone v3: catalog entry to use (Cinder's `swift_catalog_info` = `object-store:swift:publicURL`). */
    catalog_interface: z.enum(['public', 'internal', 'admin']).default('public'),
    region_name: z.string().min(1).optional(),
    /** Use this storage URL instead of the one auth returns (Cinder's `backup_swift_url`). */
    storage_url: z.url({ protocol: /^https?$/ }).optional(),
    /** Container used when a backup names none (Cinder's `backup_swift_container`). */
    container: z
      .string()
      .min(1)
      .max(256)
      .refine((name) => !name.includes('/'), 'a Swift container name cannot contain "/"')
      .default('volumebackups'),
    /** Create missing containers. Off: a missing container is a setup error (for operators who pre-create them). */
    create_container: z.boolean().default(true),
    /** Attempts after the first for 5xx and connection errors (Cinder's `backup_swift_retry_attempts`). */
    retry_attempts: z.number().int().min(0).max(20).default(3),
    /** Seconds before the first retry, doubled for each next one (Cinder's `backup_swift_retry_backoff`). */
    retry_backoff: z.number().min(0).max(300).default(2),
    /** Seconds a request may take to answer (and a download may stall) before it is abandoned and retried. */
    timeout: z.number().positive().max(3600).default(60),
    /** Objects uploaded at once by the engine. */
    concurrency: z.number().int().min(1).max(64).default(4),
    /** Names per listing page (Swift caps it at `container_listing_limit`, 10000 by default). */
    listing_page_size: z.number().int().min(1).max(10000).default(10000),
  })
  .strict()
  .superRefine((options, ctx) => {
    const hasKey = [options.key, options.key_env, options.key_file].filter((value) => value !== undefined).length;
    if (hasKey > 1) ctx.addIssue({ code: 'custom', path: ['key'], message: 'give only one of key, key_env, key_file' });
    if (options.auth_version === '1') {
      if (options.user === undefined) {
        ctx.addIssue({ code: 'custom', path: ['user'], message: 'auth_version 1 needs user ("account:user")' });
      }
      if (hasKey === 0) ctx.addIssue({ code: 'custom', path: ['key'], message: 'auth_version 1 needs key, key_env or key_file' });
      return;
    }
    const appCredential = options.application_credential_id !== undefined;
    if (appCredential) {
      if (options.application_credential_secret === undefined && options.application_credential_secret_env === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['application_credential_secret'],
          message: 'application_credential_id needs application_credential_secret or application_credential_secret_env',
        });
      }
      return;
    }
    if (options.user === undefined) {
      ctx.addIssue({ code: 'custom', path: ['user'], message: 'auth_version 3 needs user (or application_credential_id)' });
    }
    if (hasKey === 0) ctx.addIssue({ code: 'custom', path: ['key'], message: 'auth_version 3 needs key (the password), key_env or key_file' });
    if (options.project_name === undefined && options.project_id === undefined) {
      ctx.addIssue({ code: 'custom', path: ['project_name'], message: 'auth_version 3 with a password needs project_name or project_id' });
    }
  });

/** Options as the driver receives them, defaults applied. */
export type SwiftOptions = z.output<typeof swiftOptionsSchema>;
/** Options as written in the service config. */
export type SwiftOptionsInput = z.input<typeof swiftOptionsSchema>;
