#!/usr/bin/env node
/** `stowage serve | check | status | wait | keys rotate`: the command deployers and operators run. Exit 2 means the configuration or a plugin is wrong. */
// First: sizes libuv's thread pool before anything uses it (see the module).
import '@stowage/core/thread-pool';
import { resolve } from 'node:path';
import { ConfigError, ContractError, describeError, runWithTimeout } from '@stowage/core';
import { Command } from 'commander';
import { embeddedDefaultConfig, loadConfigFile, type ServiceConfig } from './config/load-config.js';
import { ClientError, EXIT_UNFOLLOWABLE, printStatus, waitFor, type ClientOptions } from './client/status-client.js';
import { createLogger } from './logger.js';
import { openDatabase } from './db/connect.js';
import { Store } from './db/store.js';
import { loadBackends } from './plugins/plugin-loader.js';
import { startService } from './service.js';
import { rotateBackendKeys } from './encryption/rotate-keys.js';

export const EXIT_CONFIG = 2;

async function resolveConfig(options: { config?: string; embeddedDefault?: boolean }): Promise<ServiceConfig> {
  const file = options.config ?? process.env.STOWAGE_CONFIG;
  if (file) return loadConfigFile(file);
  if (options.embeddedDefault) {
    const statePath = process.env.STOWAGE_STATE_PATH ?? resolve(process.env.INIT_CWD ?? process.cwd(), 'data');
    return embeddedDefaultConfig(resolve(statePath));
  }
  throw new ConfigError('no configuration: pass --config FILE, set STOWAGE_CONFIG, or use --embedded-default');
}

/** Configuration and plugin problems exit 2 with their message; anything else is a crash (exit 1). */
function failAndExit(error: unknown): never {
  if (ConfigError.isInstance(error) || ContractError.isInstance(error)) {
    process.stderr.write(`stowage: ${error.message}\n`);
    process.exit(EXIT_CONFIG);
  }
  process.stderr.write(`stowage: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
}

async function serve(options: { config?: string; embeddedDefault?: boolean }): Promise<void> {
  const logger = createLogger();
  const config = await resolveConfig(options);
  const service = await startService(config, logger);
  process.stdout.write(`stowage: serving ${service.url} (config: ${config.source})\n`);
  const shutdown = (signal: string) => {
    logger.info({ signal }, 'shutdown requested');
    service.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: describeError(error) }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

/** Run each backend's doSetup once and print one line per backend; non-zero exit if any failed. */
async function check(options: { config?: string; embeddedDefault?: boolean }): Promise<number> {
  const config = await resolveConfig(options);
  const backends = await loadBackends(config.backends, config.pluginSearchPaths);
  let failed = 0;
  for (const backend of backends) {
    const name = backend.config.name;
    const label = `${name} (${backend.config.driver} ${backend.plugin.version})`;
    const started = performance.now();
    try {
      const driver = backend.plugin.create(backend.options, { backendName: name, statePath: resolve(config.statePath, 'backends', name) });
      await runWithTimeout(`doSetup of backend ${name}`, config.initializationTimeoutMs, (signal) => driver.doSetup({ signal }));
      await driver.close?.();
      process.stdout.write(`ok      ${label} in ${Math.round(performance.now() - started)} ms\n`);
    } catch (error) {
      failed += 1;
      process.stdout.write(`FAILED  ${label} after ${Math.round(performance.now() - started)} ms: ${describeError(error)}\n`);
    }
  }
  if (config.databaseUrl.startsWith('postgres')) failed += await checkSharedDatabase(config);
  return failed === 0 ? 0 : 1;
}

/**
 * With a shared PostgreSQL: connect (bringing the schema up to date, as serve would) and print every host's backup
 * services with their state, so a deployer sees the hosts this one will share work with. The URL's password is
 * never printed.
 */
async function checkSharedDatabase(config: ServiceConfig): Promise<number> {
  const shown = redactPassword(config.databaseUrl);
  const started = performance.now();
  try {
    const database = await runWithTimeout(`connecting to ${shown}`, config.initializationTimeoutMs, () => openDatabase(config.databaseUrl));
    try {
      const store = new Store(database.db, database.kind);
      const services = await store.listServices({ binary: 'cinder-backup' });
      const threshold = new Date(Date.now() - config.serviceDownTimeMs).toISOString();
      const states = services.map((service) => {
        const up = service.disabled === 0 && service.backend_state === 'up' && (service.updated_at ?? '') >= threshold;
        return `${service.host} ${up ? 'up' : 'down'}${service.disabled ? ' (disabled)' : ''}`;
      });
      process.stdout.write(`ok      database ${shown} in ${Math.round(performance.now() - started)} ms: ${services.length} backup service(s)${states.length ? `: ${states.join(', ')}` : ''}\n`);
      return 0;
    } finally {
      await database.close();
    }
  } catch (error) {
    process.stdout.write(`FAILED  database ${shown} after ${Math.round(performance.now() - started)} ms: ${describeError(error)}\n`);
    return 1;
  }
}

function redactPassword(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'postgres://(unparsable URL)';
  }
}

const program = new Command('stowage').description('Stowage backup service (OpenStack Cinder backup API)');
program
  .command('serve')
  .description('run the backup service')
  .option('-c, --config <file>', 'YAML config file (or STOWAGE_CONFIG)')
  .option('--embedded-default', 'with no config: SQLite and a posix backend under ./data (or STOWAGE_STATE_PATH), noauth on 127.0.0.1:8776')
  .action((options: { config?: string; embeddedDefault?: boolean }) => serve(options).catch(failAndExit));
program
  .command('check')
  .description("validate the config and run every backend's doSetup once")
  .option('-c, --config <file>', 'YAML config file (or STOWAGE_CONFIG)')
  .option('--embedded-default', 'check the embedded default configuration')
  .action((options: { config?: string; embeddedDefault?: boolean }) =>
    check(options).then((code) => process.exit(code), failAndExit),
  );
const keys = program.command('keys').description('client-side encryption keys (docs/encryption.md)');
keys
  .command('rotate')
  .description("re-wrap every project data key of a backend under a new master key (no backup object is rewritten)")
  .requiredOption('--backend <name>', 'the backend whose keys to re-wrap')
  .requiredOption('--new-master-key-file <file>', 'the new master key: 32 random bytes, raw or base64')
  .option('-c, --config <file>', 'YAML config file (or STOWAGE_CONFIG)')
  .action((options: { backend: string; newMasterKeyFile: string; config?: string }) =>
    resolveConfig(options)
      .then((config) => rotateBackendKeys(config, options.backend, options.newMasterKeyFile))
      .then((report) => {
        process.stdout.write(
          `backend ${report.backend}: ${report.rewrapped} data key(s) re-wrapped from master key ${report.previousMasterKeyId} to ${report.newMasterKeyId}, ${report.unchanged} already under it, ${report.failed.length} failed\n`,
        );
        for (const failure of report.failed) process.stdout.write(`FAILED  ${failure.object}: ${failure.reason}\n`);
        if (report.failed.length === 0) {
          process.stdout.write(
            `now set the backend's encryption.master_key_file to ${options.newMasterKeyFile} and restart; keep the old key in previous_master_key_files until every host runs with the new one\n`,
          );
        }
        process.exit(report.failed.length === 0 ? 0 : 1);
      }, failAndExit),
  );

interface RemoteOptions {
  url?: string;
  token?: string;
}

/** The same auth as the API: a token from --token, OS_AUTH_TOKEN or STOWAGE_TOKEN; noauth's `admin:admin` when none. */
function clientOptions(options: RemoteOptions): ClientOptions {
  return {
    url: options.url ?? process.env.STOWAGE_URL ?? 'http://127.0.0.1:8776',
    token: options.token ?? process.env.OS_AUTH_TOKEN ?? process.env.STOWAGE_TOKEN ?? 'admin:admin',
    requestTimeoutMs: 10_000,
  };
}

const terminal = { write: (text: string) => void process.stdout.write(text), isTTY: process.stdout.isTTY === true };

/** A client command that cannot reach the service, or is refused, exits 3 with its message. */
function clientFailure(error: unknown): never {
  if (error instanceof ClientError) {
    process.stderr.write(`stowage: ${error.message}\n`);
    process.exit(EXIT_UNFOLLOWABLE);
  }
  return failAndExit(error);
}

program
  .command('status')
  .description('backends of every host with state and reason, running operations with progress, recent failures (admin)')
  .option('--url <url>', 'the API, e.g. http://127.0.0.1:8776 (or STOWAGE_URL)')
  .option('--token <token>', 'X-Auth-Token (or OS_AUTH_TOKEN / STOWAGE_TOKEN; noauth needs none)')
  .action((options: RemoteOptions) => printStatus(clientOptions(options), terminal).then((code) => process.exit(code), clientFailure));
program
  .command('wait')
  .description('follow the running operation of a backup to its end; exit 0 on success, 1 on failure, 3 when it cannot be followed')
  .argument('<backup-id>')
  .option('--url <url>', 'the API, e.g. http://127.0.0.1:8776 (or STOWAGE_URL)')
  .option('--token <token>', 'X-Auth-Token (or OS_AUTH_TOKEN / STOWAGE_TOKEN; noauth needs none)')
  .option('--interval <seconds>', 'seconds between polls', '1')
  .option('--timeout <seconds>', 'give up after this many seconds', '86400')
  .action((backupId: string, options: RemoteOptions & { interval: string; timeout: string }) =>
    waitFor(backupId, { ...clientOptions(options), intervalMs: Math.max(0.1, Number(options.interval) || 1) * 1000, timeoutMs: Math.max(1, Number(options.timeout) || 86_400) * 1000 }, terminal).then(
      (code) => process.exit(code),
      clientFailure,
    ),
  );
program.parseAsync(process.argv).catch(failAndExit);
