import type { Logger } from 'pino';
import type { ServiceConfig } from '../config/load-config.js';
import type { Store } from '../db/store.js';
import type { Quotas } from '../quota/quotas.js';
import type { Authenticator } from './auth/authenticator.js';
import type { BackupManager } from '../manager/backup-manager.js';
import type { BackupScheduler } from '../scheduler/backup-scheduler.js';

/** What the routes need. */
export interface ApiDependencies {
  readonly config: ServiceConfig;
  readonly store: Store;
  readonly manager: BackupManager;
  readonly scheduler: BackupScheduler;
  readonly logger: Logger;
  readonly authenticator: Authenticator;
  readonly quotas: Quotas;
}
