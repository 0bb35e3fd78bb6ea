/** What every operation is given: the stores and services it works through, and who is asking. */
import type { Notifier } from '@stowage/core';
import type { Logger } from 'pino';
import type { ServiceConfig } from '../config/load-config.js';
import type { Store } from '../db/store.js';
import type { BackupManager } from '../manager/backup-manager.js';
import type { Placement } from '../placement/placement.js';
import type { Quotas } from '../quota/quotas.js';
import type { BackgroundWork } from './background-work.js';

export interface OperationDeps {
  readonly config: ServiceConfig;
  readonly store: Store;
  readonly manager: BackupManager;
  readonly placement: Placement;
  readonly quotas: Quotas;
  readonly notifier: Notifier;
  readonly logger: Logger;
  readonly background: BackgroundWork;
}

/** The caller of an operation, as the API authenticated it. */
export interface Caller {
  readonly userId: string;
  /** The project the caller acts as: new resources belong to it. */
  readonly projectId: string;
  readonly isAdmin: boolean;
}

/** The project filter of a lookup by id: none for an admin (any project), the caller's own otherwise. */
export function scopeOf(caller: Caller): string | undefined {
  return caller.isAdmin ? undefined : caller.projectId;
}
