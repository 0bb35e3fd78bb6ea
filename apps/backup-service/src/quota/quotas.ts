/**
 * Cinder's backup quotas: `backups` (count) and `backup_gigabytes` (sum of sizes) per project, defaults
 * `quota_backups` 10 and `quota_backup_gigabytes` 1000, -1 unlimited, per-project overrides in `quotas`; and its
 * volume quotas `volumes` and `gigabytes` (`quota_volumes` 10, `quota_gigabytes` 1000).
 *
 * Usage is what the project's live backup rows hold, so a delete (or a failed request that never inserted
 * its row) releases it with no bookkeeping to drift. Check-and-insert runs under a per-project lock, so two
 * concurrent creates cannot both take the last unit: in this process a promise chain, and across the hosts sharing
 * one PostgreSQL an advisory lock of the project held from the check until the row is in (`Store.withCrossHostLock`).
 */
import type { Store } from '../db/store.js';
import { QuotaExceeded } from '../domain/errors.js';

export interface QuotaDefaults {
  readonly backups: number;
  readonly backupGigabytes: number;
  readonly volumes: number;
  readonly gigabytes: number;
}

export class Quotas {
  readonly #store: Store;
  readonly #defaults: QuotaDefaults;
  readonly #locks = new Map<string, Promise<unknown>>();

  constructor(store: Store, defaults: QuotaDefaults) {
    this.#store = store;
    this.#defaults = defaults;
  }

  /**
   * Check that one more backup of `gigabytes` fits the project's quota, then run `commit` (which inserts the
   * backup row) before any other reservation of the project is checked. Over quota: `QuotaExceeded`, as Cinder words it.
   */
  async reserveBackup<T>(projectId: string, gigabytes: number, commit: () => Promise<T>): Promise<T> {
    return this.#withLock(projectId, async () => {
      const [usage, overrides] = await Promise.all([this.#store.backupUsage(projectId), this.#store.quotaLimits(projectId)]);
      const maxBackups = overrides.get('backups') ?? this.#defaults.backups;
      const maxGigabytes = overrides.get('backup_gigabytes') ?? this.#defaults.backupGigabytes;
      if (maxBackups >= 0 && usage.backups + 1 > maxBackups) {
        throw new QuotaExceeded(`Maximum number of backups allowed (${maxBackups}) exceeded`);
      }
      if (maxGigabytes >= 0 && usage.gigabytes + gigabytes > maxGigabytes) {
        throw new QuotaExceeded(
          `Requested backup exceeds allowed Backup gigabytes quota. Requested ${gigabytes}G, quota is ${maxGigabytes}G and ${usage.gigabytes}G has been consumed.`,
        );
      }
      return commit();
    });
  }

  /**
   * Check that `volumes` more volumes (0 for an extend) and `gigabytes` more GiB fit the project's volume quotas,
   * then run `commit` (which inserts or grows the volume row) before any other volume reservation of the project.
   */
  async reserveVolume<T>(projectId: string, change: { readonly volumes: 0 | 1; readonly gigabytes: number }, commit: () => Promise<T>): Promise<T> {
    return this.#withLock(`volumes:${projectId}`, async () => {
      const [usage, overrides] = await Promise.all([this.#store.volumeUsage(projectId), this.#store.quotaLimits(projectId)]);
      const maxVolumes = overrides.get('volumes') ?? this.#defaults.volumes;
      const maxGigabytes = overrides.get('gigabytes') ?? this.#defaults.gigabytes;
      if (change.volumes > 0 && maxVolumes >= 0 && usage.volumes + change.volumes > maxVolumes) {
        throw new QuotaExceeded(`Maximum number of volumes allowed (${maxVolumes}) exceeded for quota 'volumes'.`);
      }
      if (maxGigabytes >= 0 && usage.gigabytes + change.gigabytes > maxGigabytes) {
        throw new QuotaExceeded(
          `Requested volume or snapshot exceeds allowed gigabytes quota. Requested ${change.gigabytes}G, quota is ${maxGigabytes}G and ${usage.gigabytes}G has been consumed.`,
        );
      }
      return commit();
    });
  }

  async #withLock<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.#locks.get(key) ?? Promise.resolve();
    const current = previous.catch(() => undefined).then(() => this.#store.withCrossHostLock(`quota:${key}`, work));
    const settled = current.catch(() => undefined);
    this.#locks.set(key, settled);
    try {
      return await current;
    } finally {
      if (this.#locks.get(key) === settled) this.#locks.delete(key);
    }
  }
}
