import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { ConfigError, parseCompressionAlgorithm, type CompressionAlgorithm, type ConfigIssue } from '@stowage/core';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { configSchema, type BackendConfig, type KeystoneAuthtokenConfig, type NotificationSinkConfig, type ParsedConfig } from './config-schema.js';

/** The validated configuration with every path made absolute and every default filled in. */
export interface ServiceConfig {
  readonly host: string;
  readonly storageAvailabilityZone: string;
  readonly reportIntervalMs: number;
  readonly serviceDownTimeMs: number;
  readonly periodicIntervalMs: number;
  readonly periodicInitialization: boolean;
  readonly initializationTimeoutMs: number;
  readonly maxOperations: number;
  readonly compression: CompressionAlgorithm;
  readonly shutdownGraceMs: number;
  readonly statePath: string;
  readonly databaseUrl: string;
  readonly listenHost: string;
  readonly listenPort: number;
  /** Where `/metrics` is served instead of the API's listener; undefined: on the API's listener. */
  readonly metricsListen: { readonly host: string; readonly port: number } | undefined;
  readonly authStrategy: 'noauth' | 'tokens' | 'keystone';
  /** Absolute path of the tokens file (auth_strategy tokens). */
  readonly authTokensFile: string | undefined;
  /** auth_strategy keystone; password_file made absolute. */
  readonly keystoneAuthtoken: KeystoneAuthtokenConfig | undefined;
  readonly quotaBackups: number;
  readonly quotaBackupGigabytes: number;
  readonly quotaVolumes: number;
  readonly quotaGigabytes: number;
  /** GiB; -1 = no limit. */
  readonly perVolumeSizeLimit: number;
  readonly apiTimeouts: { readonly headersMs: number; readonly requestMs: number; readonly idleMs: number };
  readonly volumesDir: string;
  readonly notifications: readonly NotificationSinkConfig[];
  /** Folders driver packages are resolved from, in order: the config file's folder, then plugin_paths. */
  readonly pluginSearchPaths: readonly string[];
  readonly backends: readonly BackendConfig[];
  /** Where the configuration came from, for messages. */
  readonly source: string;
  /** Adjustments made to the given values (e.g. Cinder's service_down_time fix-up), for a start-up warning. */
  readonly warnings: readonly string[];
}

/** Read and validate a YAML config file. Throws one `ConfigError` naming every bad field. */
export async function loadConfigFile(path: string): Promise<ServiceConfig> {
  const absolute = resolve(path);
  let text: string;
  try {
    text = await readFile(absolute, 'utf8');
  } catch (cause) {
    throw new ConfigError(`cannot read the config file ${absolute}: ${(cause as Error).message}; pass --config FILE or set STOWAGE_CONFIG`, [], { cause });
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (cause) {
    throw new ConfigError(`config file ${absolute} is not valid YAML: ${(cause as Error).message}`, [], { cause });
  }
  return resolveConfig(raw ?? {}, { baseDir: dirname(absolute), source: absolute });
}

/** Validate an already parsed configuration; relative paths resolve against `baseDir`. */
export function resolveConfig(raw: unknown, where: { baseDir: string; source: string }): ServiceConfig {
  const result = configSchema.safeParse(raw);
  if (!result.success) throw configErrorFrom(result.error, where.source);
  const parsed: ParsedConfig = result.data;
  const issues: ConfigIssue[] = [];
  const warnings: string[] = [];
  const at = (path: string) => (isAbsolute(path) ? path : resolve(where.baseDir, path));

  const statePath = at(parsed.state_path);
  const databaseUrl = parsed.database_url
    ? parsed.database_url.startsWith('sqlite:')
      ? `sqlite:${at(parsed.database_url.slice('sqlite:'.length))}`
      : parsed.database_url
    : `sqlite:${resolve(statePath, 'stowage.sqlite')}`;
  const { host: listenHost, port: listenPort } = splitListen(parsed.listen);
  const metricsListen = parsed.metrics_listen === undefined ? undefined : splitListen(parsed.metrics_listen);
  if (metricsListen && (metricsListen.port < 0 || metricsListen.port > 65535)) {
    issues.push({ path: 'metrics_listen', message: `port ${metricsListen.port} is out of range 0-65535` });
  }
  if (listenPort < 1 || listenPort > 65535) issues.push({ path: 'listen', message: `port ${listenPort} is out of range 1-65535` });
  if (parsed.auth_strategy === 'noauth' && !isLoopback(listenHost) && !parsed.allow_noauth_on_non_loopback) {
    issues.push({
      path: 'listen',
      message: `auth_strategy noauth trusts every caller; refusing to listen on non-loopback ${listenHost}. Listen on 127.0.0.1, or set allow_noauth_on_non_loopback: true if that is really intended`,
    });
  }
  if (parsed.auth_strategy === 'tokens' && !parsed.auth_tokens_file) {
    issues.push({ path: 'auth_tokens_file', message: 'auth_strategy tokens needs auth_tokens_file: a YAML file `tokens: [{sha256, user_id, project_id, roles}]`' });
  }
  const keystone = parsed.keystone_authtoken;
  if (parsed.auth_strategy === 'keystone') {
    if (!keystone) {
      issues.push({
        path: 'keystone_authtoken',
        message: 'auth_strategy keystone needs keystone_authtoken: {auth_url, username, password, project_name, user_domain_name, project_domain_name}',
      });
    } else {
      const sources = [keystone.password, keystone.password_env, keystone.password_file].filter((value) => value !== undefined).length;
      if (sources !== 1) {
        issues.push({ path: 'keystone_authtoken.password', message: 'give exactly one of password, password_env, password_file' });
      } else if (keystone.password_env !== undefined && !process.env[keystone.password_env]) {
        issues.push({ path: 'keystone_authtoken.password_env', message: `environment variable ${keystone.password_env} is not set or empty` });
      }
    }
  }
  parsed.backends.forEach((backend, index) => {
    const encryption = backend.encryption;
    if (encryption === undefined) return;
    const sources = [encryption.master_key_file, encryption.master_key_env].filter((value) => value !== undefined).length;
    if (sources !== 1) {
      issues.push({
        path: `backends[${index}].encryption`,
        message: 'give exactly one of master_key_file (a file holding 32 random bytes, raw or base64) or master_key_env (the name of an environment variable holding them in base64)',
      });
    } else if (encryption.master_key_env !== undefined && !process.env[encryption.master_key_env]) {
      issues.push({ path: `backends[${index}].encryption.master_key_env`, message: `environment variable ${encryption.master_key_env} is not set or empty` });
    }
  });
  let serviceDownTime = parsed.service_down_time;
  if (serviceDownTime <= parsed.report_interval) {
    // Cinder's basic_config_check does the same rather than refusing to start.
    serviceDownTime = Math.floor(parsed.report_interval * 2.5);
    warnings.push(
      `service_down_time (${parsed.service_down_time}) must exceed report_interval (${parsed.report_interval}); using ${serviceDownTime} as Cinder does`,
    );
  }
  if (issues.length > 0) throw new ConfigError(formatIssues(where.source, issues), issues);

  return {
    host: parsed.host,
    storageAvailabilityZone: parsed.storage_availability_zone,
    reportIntervalMs: parsed.report_interval * 1000,
    serviceDownTimeMs: serviceDownTime * 1000,
    periodicIntervalMs: parsed.periodic_interval * 1000,
    periodicInitialization: parsed.backup_periodic_initialization,
    initializationTimeoutMs: parsed.backup_initialization_timeout * 1000,
    maxOperations: parsed.backup_max_operations,
    compression: parseCompressionAlgorithm(parsed.backup_compression_algorithm) ?? 'zstd',
    shutdownGraceMs: parsed.shutdown_grace_period * 1000,
    statePath,
    databaseUrl,
    listenHost,
    listenPort,
    metricsListen,
    authStrategy: parsed.auth_strategy,
    authTokensFile: parsed.auth_tokens_file === undefined ? undefined : at(parsed.auth_tokens_file),
    keystoneAuthtoken:
      keystone === undefined ? undefined : { ...keystone, ...(keystone.password_file === undefined ? {} : { password_file: at(keystone.password_file) }) },
    quotaBackups: parsed.quota_backups,
    quotaBackupGigabytes: parsed.quota_backup_gigabytes,
    quotaVolumes: parsed.quota_volumes,
    quotaGigabytes: parsed.quota_gigabytes,
    perVolumeSizeLimit: parsed.per_volume_size_limit,
    apiTimeouts: { headersMs: parsed.api_headers_timeout * 1000, requestMs: parsed.api_request_timeout * 1000, idleMs: parsed.api_idle_timeout * 1000 },
    volumesDir: at(parsed.volumes_dir ?? resolve(statePath, 'volumes')),
    notifications: parsed.notifications.map((sink) => (sink.type === 'log' && sink.path ? { ...sink, path: at(sink.path) } : sink)),
    pluginSearchPaths: [where.baseDir, ...parsed.plugin_paths.map(at)],
    backends: parsed.backends.map((backend) =>
      backend.encryption === undefined
        ? backend
        : {
            ...backend,
            encryption: {
              ...backend.encryption,
              ...(backend.encryption.master_key_file === undefined ? {} : { master_key_file: at(backend.encryption.master_key_file) }),
              previous_master_key_files: backend.encryption.previous_master_key_files.map(at),
            },
          },
    ),
    source: where.source,
    warnings,
  };
}

function splitListen(listen: string): { host: string; port: number } {
  const colon = listen.lastIndexOf(':');
  const host = listen.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
  return { host, port: Number(listen.slice(colon + 1)) };
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

function configErrorFrom(error: z.ZodError, source: string): ConfigError {
  const issues: ConfigIssue[] = error.issues.map((issue) => ({ path: formatPath(issue.path), message: issue.message }));
  return new ConfigError(formatIssues(source, issues), issues, { cause: error });
}

function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const key of path) out += typeof key === 'number' ? `[${key}]` : out === '' ? String(key) : `.${String(key)}`;
  return out === '' ? '(top level)' : out;
}

function formatIssues(source: string, issues: readonly ConfigIssue[]): string {
  return `invalid configuration in ${source}:\n${issues.map((issue) => `  - ${issue.path}: ${issue.message}`).join('\n')}`;
}

/** The embedded default: SQLite and a posix backend under one state folder, noauth on loopback, retries on. */
export function embeddedDefaultConfig(statePath: string): ServiceConfig {
  return resolveConfig(
    {
      state_path: statePath,
      backup_periodic_initialization: true,
      notifications: [{ type: 'log', path: resolve(statePath, 'notifications.log') }],
      backends: [{ name: 'posix', driver: '@stowage/driver-posix', options: { path: resolve(statePath, 'backups'), create_path: true } }],
    },
    { baseDir: statePath, source: 'the embedded default configuration' },
  );
}
