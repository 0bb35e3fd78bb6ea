/**
 * Picks the backup service for a create, and re-picks when a host's storage turns out to be unreachable.
 *
 * Candidates are services that are up (heartbeat within service_down_time, driver initialised) and enabled, in
 * the backup's availability zone, that this process runs; an incremental must stay on its parent's backend
 * name. The choice is claimed with a conditional UPDATE (`host IS NULL`), so two schedulers never both win.
 */
import { describeError } from '@stowage/core';
import type { Logger } from 'pino';
import type { Store } from '../db/store.js';
import type { BackupManager, Rescheduler, SchedulingAttempt } from '../manager/backup-manager.js';

export interface BackupSchedulerOptions {
  readonly store: Store;
  readonly manager: BackupManager;
  readonly serviceDownTimeMs: number;
  readonly logger: Logger;
  /** Chooses among candidate hosts; random by default (tests pass a deterministic one). */
  readonly pickHost?: ((hosts: readonly string[]) => string) | undefined;
}

export class BackupScheduler implements Rescheduler {
  readonly #options: BackupSchedulerOptions;

  constructor(options: BackupSchedulerOptions) {
    this.#options = options;
  }

  /** Schedule (or reschedule) a `creating` backup. Never throws: failures end in the backup's `error`. */
  async scheduleCreate(backupId: string, tried: readonly SchedulingAttempt[] = []): Promise<void> {
    const { store, manager, logger } = this.#options;
    try {
      const backup = await store.getBackup(backupId);
      if (!backup || backup.status !== 'creating' || backup.host !== null) return;
      const volume = await store.getVolume(backup.volume_id);
      const availabilityZone = backup.availability_zone ?? volume?.availability_zone;
      const parent = backup.parent_id ? await store.getBackup(backup.parent_id) : undefined;
      const backendName = parent?.backend_name ?? undefined;
      await store.updateBackup(backupId, { scheduling_attempts: JSON.stringify(tried) }, { status: ['creating'] });

      const excluded = new Set(tried.map((attempt) => attempt.host));
      const candidates = (await store.upServices({ serviceDownTimeMs: this.#options.serviceDownTimeMs, availabilityZone, backendName }))
        .map((service) => service.host)
        .filter((host) => !excluded.has(host) && manager.serves(host));
      if (candidates.length > 0) {
        const host = this.#options.pickHost?.(candidates) ?? candidates[Math.floor(Math.random() * candidates.length)]!;
        // The claim: only one scheduler wins a backup that has no host yet.
        if (await store.updateBackup(backupId, { host }, { status: ['creating'], host: null })) {
          logger.info({ backup: backupId, host, tried }, 'backup scheduled');
          manager.createBackup(host, backupId, tried);
        }
        return;
      }
      await this.#fail(backupId, volume?.id, noCandidateReason(tried, availabilityZone, backendName));
    } catch (error) {
      logger.error({ backup: backupId, err: describeError(error) }, 'scheduling the backup failed');
      await this.#fail(backupId, undefined, `scheduling failed: ${describeError(error)}`).catch(() => undefined);
    }
  }

  async #fail(backupId: string, volumeId: string | undefined, reason: string): Promise<void> {
    const { store, logger } = this.#options;
    if (volumeId) await store.restoreVolumeAfterBackup(volumeId);
    // host and service stay empty: the backup never reached a backend, so the API can delete it on its own.
    await store.updateBackup(backupId, { status: 'error', fail_reason: reason, host: null, service: null }, { status: ['creating'] });
    logger.warn({ backup: backupId, reason }, 'backup could not be scheduled');
  }
}

export function noCandidateReason(tried: readonly SchedulingAttempt[], availabilityZone: string | undefined, backendName: string | undefined): string {
  const where = `in availability zone ${availabilityZone ?? '(any)'}${backendName ? ` with backend name ${backendName} (the parent backup's)` : ''}`;
  if (tried.length === 0) {
    return `Service not found for creating backup: no cinder-backup service is up and enabled ${where}.`;
  }
  const attempts = tried.map((attempt) => `${attempt.host} (${attempt.reason})`).join('; ');
  return `No backup service could take the backup. Tried: ${attempts}. No other cinder-backup service is up and enabled ${where}.`;
}
