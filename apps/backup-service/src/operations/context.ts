/** What every operation is given: the stores and services it works through, and who is asking. */
import type { Notifier } from '@stowage/core';
import type { Logger } from 'pino';
import type { ServiceConfig } from '../config/load-config.js';
import type { Store } from '../db/store.js';
import type { BackupManager } from '../manager/backup-manager.js';
import type { Placement } from '../placement/placement.js';
import type { Quotas } from '../quota/quotas.js';
import type { BackgroundWork } from './background-work.js';

/**
 * How work reaches the host placement chose when several hosts share one PostgreSQL (absent on SQLite, where the
 * operation runs it in this process): the row is already queued for `host` (host set, no worker), and this wakes it.
 */
export interface WorkDispatch {
  /** This process's id in `backups.worker` (`<host>:<boot id>`). */
  readonly workerId: string;
  /** Wake the process serving `host` (this one's claim loop, or a NOTIFY); never throws, polling is the fallback. */
  dispatch(host: string): Promise<void>;
}

export interface OperationDeps {
  readonly config: ServiceConfig;
  readonly store: Store;
  readonly manager: BackupManager;
  readonly placement: Placement;
  readonly quotas: Quotas;
  readonly notifier: Notifier;
  readonly logger: Logger;
  readonly background: BackgroundWork;
  /** Several hosts on one PostgreSQL: work is queued in the database for its host; undefined on SQLite. */
  readonly work?: WorkDispatch | undefined;
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
