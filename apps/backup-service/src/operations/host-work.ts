/**
 * How work reaches a host when several `stowage serve` processes share one PostgreSQL (`WorkDispatch`). An
 * operation queues a backup for the host placement chose (host set, `worker` empty) and wakes that host: this
 * process's own claim loop at once, another process through NOTIFY. Each process claims the rows queued for its
 * working backends (`Store.claimQueuedWork`: FOR UPDATE SKIP LOCKED, `worker` set) and runs them; polling every
 * `pollIntervalMs` finds what a lost notification missed and what was queued while the backend was down or the
 * process restarting. Every `takeoverIntervalMs` it takes over the in-flight operations of hosts that went down
 * (`takeOverBackup`) and places creates whose accepting host died before placing them.
 */
import { describeError } from '@stowage/core';
import type { Logger } from 'pino';
import type { BackupRow } from '../db/tables.js';
import { WorkChannel } from '../db/work-channel.js';
import { BackupStatus } from '../domain/statuses.js';
import { placeAndRunCreate, runQueuedCreate, unplacedCreateOf } from './backup-create.js';
import { runQueuedDelete } from './backup-delete.js';
import { runQueuedRestore } from './backup-restore.js';
import type { OperationDeps, WorkDispatch } from './context.js';
import { takeOverBackup } from './recovery.js';

/** Rows claimed per query; the loop claims again while a batch comes back full. */
const CLAIM_BATCH = 25;

export interface HostWorkOptions {
  /** `<host>:<boot id>`, stored in `backups.worker`. */
  readonly workerId: string;
  readonly databaseUrl: string;
  readonly logger: Logger;
  readonly pollIntervalMs: number;
  readonly takeoverIntervalMs: number;
}

export class HostWork implements WorkDispatch {
  readonly workerId: string;
  readonly #options: HostWorkOptions;
  #deps: OperationDeps | undefined;
  #channel: WorkChannel | undefined;
  #timers: NodeJS.Timeout[] = [];
  #claiming: Promise<void> | undefined;
  #claimAgain = false;
  #takingOver = false;
  #stopped = false;

  constructor(options: HostWorkOptions) {
    this.workerId = options.workerId;
    this.#options = options;
  }

  /** LISTEN, then claim and take over on timers. `deps` are the operations this process runs the work with. */
  async start(deps: OperationDeps): Promise<void> {
    this.#deps = deps;
    const { logger, pollIntervalMs, takeoverIntervalMs } = this.#options;
    this.#channel = new WorkChannel(this.#options.databaseUrl, logger, (host) => {
      if (deps.manager.isLocal(host)) this.#claim();
    });
    await this.#channel.start();
    this.#timers = [
      setInterval(() => this.#claim(), pollIntervalMs),
      setInterval(() => void this.#takeOver(), takeoverIntervalMs),
    ];
    for (const timer of this.#timers) timer.unref();
  }

  async dispatch(host: string): Promise<void> {
    const deps = this.#deps;
    if (!deps || this.#stopped) return;
    if (deps.manager.isLocal(host)) {
      this.#claim();
      return;
    }
    await deps.store.notifyWork(host).catch((error: unknown) => {
      deps.logger.warn({ host, err: describeError(error) }, 'could not notify the host of its work; its polling will find it');
    });
  }

  /** Stop claiming and taking over (running work goes on; the manager's stop settles it). */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const timer of this.#timers) clearInterval(timer);
    await this.#channel?.stop();
    await this.#claiming;
  }

  /** Claim now, or once more after the claim in flight (wake-ups never run claims side by side). */
  #claim(): void {
    if (this.#stopped || !this.#deps) return;
    if (this.#claiming) {
      this.#claimAgain = true;
      return;
    }
    this.#claiming = this.#claimAll(this.#deps).finally(() => {
      this.#claiming = undefined;
      if (this.#claimAgain) {
        this.#claimAgain = false;
        this.#claim();
      }
    });
  }

  async #claimAll(deps: OperationDeps): Promise<void> {
    const { store, manager, logger, background } = deps;
    try {
      for (;;) {
        const hosts = manager.workingHosts();
        if (hosts.length === 0 || this.#stopped) return;
        const claimed = await store.claimQueuedWork(hosts, this.workerId, CLAIM_BATCH);
        for (const backup of claimed) {
          logger.info(
            { backup: backup.id, host: backup.host, status: backup.status, ...firstCreateLatency(backup) },
            'claimed queued work',
          );
          background.run(`queued ${backup.status}`, () => runQueued(deps, backup));
        }
        if (claimed.length < CLAIM_BATCH) return;
      }
    } catch (error) {
      logger.error({ err: describeError(error) }, 'claiming queued work failed; trying again at the next poll');
    }
  }

  async #takeOver(): Promise<void> {
    const deps = this.#deps;
    if (!deps || this.#stopped || this.#takingOver) return;
    this.#takingOver = true;
    const { store, manager, placement, logger, config } = deps;
    try {
      const takers = manager.workingHosts();
      if (takers.length === 0) return;
      const dead = await placement.deadHostsFor(takers);
      for (const backup of dead.size === 0 ? [] : await store.backupsInFlightOn([...dead.keys()])) {
        if (this.#stopped) return;
        await takeOverBackup(deps, backup, dead.get(backup.host!)!).catch((error: unknown) =>
          logger.error({ backup: backup.id, err: describeError(error) }, 'taking over an operation of a down host failed'),
        );
      }
      // Accepted, then the accepting process died before placing it: any host places it (the claim picks one).
      const stale = new Date(Date.now() - config.serviceDownTimeMs).toISOString();
      for (const backup of await store.unscheduledCreates()) {
        if ((backup.updated_at ?? backup.created_at) >= stale) continue;
        const create = await unplacedCreateOf(deps, backup);
        await placeAndRunCreate(deps, create);
      }
    } catch (error) {
      logger.error({ err: describeError(error) }, 'looking for work of down hosts failed');
    } finally {
      this.#takingOver = false;
    }
  }
}

function runQueued(deps: OperationDeps, backup: BackupRow): Promise<void> {
  switch (backup.status) {
    case BackupStatus.Creating:
      return runQueuedCreate(deps, backup);
    case BackupStatus.Deleting:
      return runQueuedDelete(deps, backup);
    case BackupStatus.Restoring:
      return runQueuedRestore(deps, backup);
    default:
      return Promise.resolve();
  }
}

/** For a create claimed at its first placement: how long it took from the API's insert to this claim. */
function firstCreateLatency(backup: BackupRow): { createToClaimMs?: number } {
  if (backup.status !== BackupStatus.Creating || backup.scheduling_attempts !== '[]') return {};
  return { createToClaimMs: Date.now() - Date.parse(backup.created_at) };
}
