/**
 * The service's configuration: one YAML file. Option names follow Cinder's where Cinder has one, so a Cinder
 * deployer recognises them; durations are in seconds as in Cinder.
 */
import { hostname } from 'node:os';
import { z } from 'zod';

const seconds = (fallback: number) => z.number().positive('must be a number of seconds > 0').default(fallback);

export const notificationSinkSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('log'),
    /** Append JSON lines to this file; stdout when unset. */
    path: z.string().min(1).optional(),
  }),
  z.strictObject({
    type: z.literal('webhook'),
    url: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }),
    timeout_seconds: seconds(5),
    retries: z.int().min(0).max(10).default(3),
    /** Extra request headers (e.g. an auth token); never logged. */
    headers: z.record(z.string(), z.string()).default({}),
  }),
]);

/** A backend's master key: exactly one of a file (32 bytes, raw or base64) or an environment variable (base64). */
export const encryptionSchema = z.strictObject({
  master_key_file: z.string().min(1).optional(),
  master_key_env: z.string().min(1).optional(),
  /** Older master keys, still accepted to unwrap data keys not yet re-wrapped (`stowage keys rotate`). */
  previous_master_key_files: z.array(z.string().min(1)).default([]),
});

export const backendSchema = z.strictObject({
  name: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'must start with a letter or digit and hold only letters, digits, "_", "." or "-"'),
  /** npm package name of the driver plugin. */
  driver: z.string().min(1, 'must name the npm package of the driver, e.g. @stowage/driver-posix'),
  options: z.record(z.string(), z.unknown()).default({}),
  /** Client-side encryption of every backup on this backend (docs/encryption.md). */
  encryption: encryptionSchema.optional(),
  /** Overrides `storage_availability_zone` for this backend. */
  availability_zone: z.string().min(1).optional(),
});

/** Named after Cinder's `[keystone_authtoken]` (keystonemiddleware) options. */
export const keystoneAuthtokenSchema = z.strictObject({
  /** keystonemiddleware's `auth_type`; only password auth of the service user is supported. */
  auth_type: z.literal('password').default('password'),
  /** Keystone's identity URL, e.g. http://127.0.0.1:5000/v3 (a missing /v3 is added). */
  auth_url: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }),
  /** The public identity URL told to clients in 401's WWW-Authenticate; defaults to auth_url. */
  www_authenticate_uri: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }).optional(),
  username: z.string().min(1),
  /** Exactly one of password, password_env (a variable's name), password_file. */
  password: z.string().min(1).optional(),
  password_env: z.string().min(1).optional(),
  password_file: z.string().min(1).optional(),
  project_name: z.string().min(1),
  user_domain_name: z.string().min(1).default('Default'),
  project_domain_name: z.string().min(1).default('Default'),
  /** Accepted for Cinder compatibility; token validation does not depend on a region. */
  region_name: z.string().min(1).optional(),
  /** keystonemiddleware's token_cache_time: a validation is reused at most this long (and never past the token's expiry). */
  cache_seconds: z.number().min(0).default(300),
  /** Most validations kept in memory. */
  cache_size: z.int().min(1).default(1000),
  /** Per request to Keystone (http_connect_timeout and read together). */
  timeout: seconds(10),
});

export const configSchema = z
  .strictObject({
    host: z.string().min(1).regex(/^[^@\s]+$/, 'must not contain "@" or spaces').default(hostname()),
    storage_availability_zone: z.string().min(1).default('nova'),
    report_interval: seconds(10),
    service_down_time: seconds(60),
    periodic_interval: seconds(60),
    /** The spec's option: retry a failed driver setup every periodic_interval. */
    backup_periodic_initialization: z.boolean().default(false),
    backup_initialization_timeout: seconds(60),
    backup_max_operations: z.int().min(0, 'must be >= 0 (0 = unlimited)').default(15),
    backup_compression_algorithm: z
      .string()
      .refine((value) => ['none', 'off', 'no', 'zlib', 'gzip', 'zstd'].includes(value.toLowerCase()), 'must be one of none, zlib (gzip), zstd')
      .default('zstd'),
    /** Seconds a stopping service lets running operations finish before aborting them. */
    shutdown_grace_period: z.number().min(0).default(30),
    state_path: z.string().min(1).default('./data'),
    /** `sqlite:<file>` (default `sqlite:<state_path>/stowage.sqlite`) or `postgres://...`. */
    database_url: z
      .string()
      .regex(/^(sqlite:.+|postgres(ql)?:\/\/.+)$/, 'must be sqlite:<file> or postgres://user@host:port/db')
      .optional(),
    listen: z
      .string()
      .regex(/^(\[[0-9a-fA-F:]+\]|[^:\s]+):\d{1,5}$/, 'must be HOST:PORT, e.g. 127.0.0.1:8776')
      .default('127.0.0.1:8776'),
    /** Serve `/metrics` on this HOST:PORT instead of on the API's listener (e.g. a private interface). */
    metrics_listen: z
      .string()
      .regex(/^(\[[0-9a-fA-F:]+\]|[^:\s]+):\d{1,5}$/, 'must be HOST:PORT, e.g. 127.0.0.1:9776')
      .optional(),
    /** `noauth` (development: every caller is admin), `tokens` (a YAML file of sha256-hashed tokens) or `keystone`. */
    auth_strategy: z.enum(['noauth', 'tokens', 'keystone']).default('noauth'),
    /** With `keystone`: how tokens are validated, named like Cinder's [keystone_authtoken]. */
    keystone_authtoken: keystoneAuthtokenSchema.optional(),
    /** With `tokens`: `tokens: [{sha256, user_id, project_id, roles}]`, re-read when it changes. */
    auth_tokens_file: z.string().min(1).optional(),
    /** Cinder's per-project defaults for backups (`quota_backups`, `quota_backup_gigabytes`); -1 = unlimited. */
    quota_backups: z.int().min(-1).default(10),
    quota_backup_gigabytes: z.int().min(-1).default(1000),
    /** Cinder's per-project defaults for volumes (`quota_volumes`, `quota_gigabytes`); -1 = unlimited. */
    quota_volumes: z.int().min(-1).default(10),
    quota_gigabytes: z.int().min(-1).default(1000),
    /** Cinder's `per_volume_size_limit`: the largest volume (GiB) a create, extend or restore may ask for; -1 = no limit. */
    per_volume_size_limit: z.int().min(-1).default(16384),
    /** API timeouts in seconds: the request headers, the whole request with its body, and an idle connection. */
    api_headers_timeout: seconds(30),
    api_request_timeout: seconds(60),
    api_idle_timeout: seconds(75),
    /** noauth trusts any token: listening beyond loopback with it must be asked for explicitly. */
    allow_noauth_on_non_loopback: z.boolean().default(false),
    volumes_dir: z.string().min(1).optional(),
    notifications: z.array(notificationSinkSchema).default([]),
    /** Extra folders to resolve driver packages from (each holding node_modules, or a node_modules itself). */
    plugin_paths: z.array(z.string().min(1)).default([]),
    // Checked on the list itself so that a duplicate is reported along with every other bad field.
    backends: z
      .array(backendSchema)
      .min(1, 'configure at least one backend')
      .superRefine((backends, context) => {
        const seen = new Map<string, number>();
        backends.forEach((backend, index) => {
          const first = seen.get(backend.name);
          if (first !== undefined) {
            context.addIssue({ code: 'custom', path: [index, 'name'], message: `duplicates backends[${first}].name "${backend.name}"` });
          }
          seen.set(backend.name, index);
        });
      }),
  })
  .superRefine((config, context) => {
    // Node refuses a headers timeout longer than the request timeout that contains it.
    if (config.api_headers_timeout > config.api_request_timeout) {
      context.addIssue({ code: 'custom', path: ['api_headers_timeout'], message: `must not exceed api_request_timeout (${config.api_request_timeout})` });
    }
  });

export type StowageConfigInput = z.input<typeof configSchema>;
export type ParsedConfig = z.output<typeof configSchema>;
export type BackendConfig = z.output<typeof backendSchema>;
export type KeystoneAuthtokenConfig = z.output<typeof keystoneAuthtokenSchema>;
export type NotificationSinkConfig = z.output<typeof notificationSinkSchema>;
