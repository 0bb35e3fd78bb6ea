/** Composes the service: plugins, database, notifier, manager, placement, operations and API; and stops it cleanly. */
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { ConfigError, DRIVER_CONTRACT_V1, Notifier, describeError } from '@stowage/core';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Authenticator } from './api/auth/authenticator.js';
import { KeystoneAuthenticator } from './api/auth/keystone-authenticator.js';
import { NoAuthAuthenticator } from './api/auth/noauth-authenticator.js';
import { TokenFileAuthenticator } from './api/auth/token-file-authenticator.js';
import { startMetricsServer } from './api/metrics-server.js';
import { MAX_VERSION, formatVersion } from './api/microversion.js';
import { buildApi } from './api/server.js';
import { ServiceMetrics } from './observability/metrics.js';
import { serviceVersion } from './observability/service-version.js';
import { setupMetricsSink } from './observability/setup-metrics-sink.js';
import { Quotas } from './quota/quotas.js';
import type { KeystoneAuthtokenConfig } from './config/config-schema.js';
import type { ServiceConfig } from './config/load-config.js';
import { openDatabase, type OpenedDatabase } from './db/connect.js';
import { Store } from './db/store.js';
import { BackupManager } from './manager/backup-manager.js';
import { createSinks } from './notifications/sinks.js';
import { loadBackends, type LoadedBackend } from './plugins/plugin-loader.js';
import { loadBackendMasterKeys } from './encryption/backend-keys.js';
import { BackgroundWork } from './operations/background-work.js';
import { placeUnplacedCreates } from './operations/backup-create.js';
import type { OperationDeps } from './operations/context.js';
import { HostWork } from './operations/host-work.js';
import { recoveryHooks, sweepTransientVolumes } from './operations/recovery.js';
import { Placement, type HostReach } from './placement/placement.js';

/** The shared database's polling fallback for wake-ups: at most this long between claims of queued work. */
const MAX_WORK_POLL_MS = 5000;

export interface RunningService {
  /** `http://host:port` the API listens on. */
  readonly url: string;
  readonly manager: BackupManager;
  readonly store: Store;
  readonly app: FastifyInstance;
  readonly metrics: ServiceMetrics;
  /** `http://host:port` of `/metrics` when `metrics_listen` is set. */
  readonly metricsUrl: string | undefined;
  /** Resolves once every backend's first initialisation attempt has finished. */
  readonly initialized: Promise<void>;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Deterministic choice among equally loaded hosts for tests; random otherwise. */
  readonly pickHost?: ((hosts: readonly string[]) => string) | undefined;
  /** Tests only: adjust the loaded backends (e.g. wrap a driver to hold an operation at a known point). */
  readonly adjustBackends?: ((backends: LoadedBackend[]) => LoadedBackend[]) | undefined;
}

export async function startService(config: ServiceConfig, logger: Logger, options: StartOptions = {}): Promise<RunningService> {
  for (const warning of config.warnings) logger.warn({ config: config.source }, warning);
  // Plugins first: a missing driver or bad option must stop the process before anything else happens.
  const loaded = await loadBackends(config.backends, config.pluginSearchPaths);
  const backends = options.adjustBackends ? options.adjustBackends(loaded) : loaded;
  for (const backend of backends) {
    logger.info({ backend: backend.config.name, driver: backend.config.driver, version: backend.plugin.version, from: backend.resolvedFrom }, 'driver plugin loaded');
  }
  // Master keys next: a missing or malformed key stops the process too (the message names the field, never the key).
  const masterKeys = await loadBackendMasterKeys(backends);
  const database: OpenedDatabase = await openDatabase(config.databaseUrl);
  const store = new Store(database.db, database.kind);
  const metrics = new ServiceMetrics({
    serviceVersion: serviceVersion(),
    driverContract: DRIVER_CONTRACT_V1,
    apiMaxVersion: formatVersion(MAX_VERSION),
    maxOperations: config.maxOperations,
  });
  const backendNames = new Set(backends.map((backend) => backend.config.name));
  for (const name of backendNames) metrics.declareBackend(name);
  const notifier = new Notifier({
    host: config.host,
    sinks: [...createSinks(config.notifications), setupMetricsSink(metrics, backendNames)],
    onSinkError: (sink, message, error) =>
      logger.warn({ sink: sink.name, event: message.event_type, err: describeError(error) }, 'notification not delivered'),
  });
  const manager = new BackupManager({ config, store, notifier, logger, backends, metrics, masterKeys });
  metrics.observe({
    backends: () =>
      [...manager.backends.values()].map((runtime) => {
        const status = runtime.lifecycle.status;
        return { backend: runtime.name, up: status.state === 'up', lastFailureCode: status.lastFailure?.code ?? null, lastHeartbeatAt: status.lastHeartbeatAt };
      }),
    load: () => manager.load,
  });
  // Several hosts on one PostgreSQL: work reaches any up host through the database; on SQLite it runs here.
  const work = store.shared
    ? new HostWork({
        workerId: `${config.host}:${randomUUID()}`,
        databaseUrl: config.databaseUrl,
        logger,
        pollIntervalMs: Math.min(config.periodicIntervalMs, MAX_WORK_POLL_MS),
        takeoverIntervalMs: config.periodicIntervalMs,
      })
    : undefined;
  const reach: HostReach = work
    ? { serves: (host) => (manager.isLocal(host) ? manager.serves(host) : true), isLocal: (host) => manager.isLocal(host) }
    : manager;
  const placement = new Placement({ store, serviceDownTimeMs: config.serviceDownTimeMs, reach, pickHost: options.pickHost });
  const quotas = new Quotas(store, {
    backups: config.quotaBackups,
    backupGigabytes: config.quotaBackupGigabytes,
    volumes: config.quotaVolumes,
    gigabytes: config.quotaGigabytes,
  });
  const background = new BackgroundWork(logger);
  const operations: OperationDeps = { config, store, manager, placement, quotas, notifier, logger, background, work };
  const authenticator = await createAuthenticator(config, logger);
  const app = buildApi({ config, logger, authenticator, operations, metrics });

  // Before the API listens: a volume it shows in a transient status is one this process works on.
  await sweepTransientVolumes(operations);
  // The API listens while backends initialise: errors backups stay deletable even when every backend is down.
  const address = await app.listen({ host: config.listenHost, port: config.listenPort });
  logger.info({ url: address, database: database.kind, backends: backends.map((b) => b.config.name), worker: work?.workerId }, 'stowage backup service listening');
  const metricsServer = config.metricsListen ? await startMetricsServer(metrics, config.metricsListen) : undefined;
  if (metricsServer) logger.info({ url: `${metricsServer.url}/metrics` }, 'metrics listening');

  if (work) await work.start(operations);
  const initialized = manager.start(recoveryHooks(operations)).then(() => placeUnplacedCreates(operations));
  initialized.catch((error: unknown) => logger.error({ err: describeError(error) }, 'backend initialisation failed'));

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      logger.info('stopping: no new requests; letting running operations finish');
      await app.close();
      await metricsServer?.app.close();
      await initialized.catch(() => undefined);
      // No more claims or takeovers: what is still queued for this host waits for its next start (or a takeover).
      await work?.stop();
      const { finished, aborted } = await manager.stop(config.shutdownGraceMs);
      // Placement loops and volume files still in flight end now (no host accepts work any more).
      await background.settled();
      logger.info({ finished, aborted }, 'operations settled');
      await notifier.close(2000);
      await database.close();
    })());

  return { url: address, manager, store, app, metrics, metricsUrl: metricsServer?.url, initialized, stop };
}

async function createAuthenticator(config: ServiceConfig, logger: Logger): Promise<Authenticator> {
  if (config.authStrategy === 'noauth') return new NoAuthAuthenticator();
  if (config.authStrategy === 'keystone') return createKeystoneAuthenticator(config.keystoneAuthtoken!);
  return TokenFileAuthenticator.open(config.authTokensFile!, (error) =>
    logger.error({ err: describeError(error) }, 'auth_tokens_file could not be re-read; keeping the previous tokens'),
  );
}

async function createKeystoneAuthenticator(options: KeystoneAuthtokenConfig): Promise<KeystoneAuthenticator> {
  let password = options.password ?? (options.password_env === undefined ? undefined : process.env[options.password_env]);
  if (password === undefined && options.password_file !== undefined) {
    try {
      password = (await readFile(options.password_file, 'utf8')).trim();
    } catch (cause) {
      throw new ConfigError(`cannot read keystone_authtoken.password_file ${options.password_file}: ${(cause as Error).message}`, [], { cause });
    }
  }
  if (!password) throw new ConfigError('keystone_authtoken: the service user password is empty', []);
  return new KeystoneAuthenticator({
    authUrl: options.auth_url,
    ...(options.www_authenticate_uri === undefined ? {} : { wwwAuthenticateUri: options.www_authenticate_uri }),
    username: options.username,
    password,
    projectName: options.project_name,
    userDomainName: options.user_domain_name,
    projectDomainName: options.project_domain_name,
    cacheSeconds: options.cache_seconds,
    cacheSize: options.cache_size,
    timeoutSeconds: options.timeout,
  });
}
