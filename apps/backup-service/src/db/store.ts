/**
 * Every query the service makes, in one place. State changes that race (two API calls, two hosts) are
 * conditional UPDATEs: the caller learns whether it won from the returned boolean.
 */
import { sql, type Kysely } from 'kysely';
import type { BackupRow, BackupUpdate, Database, DatabaseKind, NewBackup, NewVolume, ServiceRow, VolumeRow } from './tables.js';
import { nowIso } from './tables.js';
import { BACKUP_STATUSES_IN_FLIGHT, BackupStatus, VolumeStatus } from '../domain/statuses.js';
import { volumeReleasesOf } from '../domain/volume-holds.js';

export const BACKUP_BINARY = 'cinder-backup';

/** The LISTEN/NOTIFY channel that wakes a host when work is queued for it (payload: the `<host>@<backend>`). */
export const WORK_CHANNEL = 'stowage_work';

/** Namespace of the service's PostgreSQL advisory locks (the first key of the two-key form). */
const ADVISORY_LOCK_SPACE = 7301;

export interface ServiceRegistration {
  readonly host: string;
  readonly availabilityZone: string;
  readonly driverName: string;
  readonly driverPackage: string;
}

export interface UpServiceQuery {
  readonly serviceDownTimeMs: number;
  readonly availabilityZone?: string | undefined;
  readonly backendName?: string | undefined;
}

export interface BackupListQuery {
  readonly projectId?: string | undefined;
  readonly name?: string | undefined;
  readonly status?: string | undefined;
  readonly volumeId?: string | undefined;
  /** `[column, direction]` pairs; default newest first. */
  readonly sort?: ReadonlyArray<readonly [BackupSortColumn, 'asc' | 'desc']> | undefined;
  readonly limit?: number | undefined;
  readonly offset?: number | undefined;
}

export type BackupSortColumn = 'id' | 'status' | 'size' | 'availability_zone' | 'display_name' | 'created_at' | 'updated_at' | 'volume_id' | 'container' | 'data_timestamp';

/** What `updateBackup` requires of the row: a status among these, a host (or none), no live incremental child. */
export interface BackupExpectation {
  readonly status?: readonly string[];
  readonly host?: string | null;
  /** The process that runs the row's operation (or null: none yet, queued). */
  readonly worker?: string | null;
  /** The row has no live child (a parent delete and a new incremental's insert cannot both win). */
  readonly noChildren?: boolean;
}

export interface ProjectVolumeUsage {
  readonly volumes: number;
  readonly gigabytes: number;
}

export interface ProjectBackupUsage {
  readonly backups: number;
  readonly gigabytes: number;
}

export class Store {
  /** Serialises this process's cross-host locks: each holds a pooled connection while its work uses others. */
  #lockChain: Promise<unknown> = Promise.resolve();

  constructor(
    readonly db: Kysely<Database>,
    readonly kind: DatabaseKind = 'sqlite',
  ) {}

  /** Whether several hosts may share this database (PostgreSQL): work then reaches hosts through it. */
  get shared(): boolean {
    return this.kind === 'postgres';
  }

  // --- services ---

  async registerService(registration: ServiceRegistration): Promise<void> {
    const existing = await this.db
      .selectFrom('services')
      .select('id')
      .where('host', '=', registration.host)
      .where('binary', '=', BACKUP_BINARY)
      .executeTakeFirst();
    const fields = {
      availability_zone: registration.availabilityZone,
      driver_name: registration.driverName,
      driver_package: registration.driverPackage,
      backend_state: 'initializing',
      backend_state_reason: null,
      deleted: 0,
    };
    if (existing) {
      await this.db.updateTable('services').set(fields).where('id', '=', existing.id).execute();
      return;
    }
    await this.db
      .insertInto('services')
      .values({
        ...fields,
        host: registration.host,
        binary: BACKUP_BINARY,
        topic: BACKUP_BINARY,
        disabled: 0,
        disabled_reason: null,
        report_count: 0,
        created_at: nowIso(),
        updated_at: null,
        modified_at: null,
      })
      .execute();
  }

  /**
   * Cinder's `report_state`: stamp `updated_at`. It leaves `backend_state` alone: a heartbeat still in flight when
   * the backend is marked down must not make it look up again.
   */
  async heartbeat(host: string): Promise<void> {
    await this.db
      .updateTable('services')
      .set((eb) => ({ updated_at: nowIso(), report_count: eb('report_count', '+', 1) }))
      .where('host', '=', host)
      .where('binary', '=', BACKUP_BINARY)
      .execute();
  }

  async setBackendState(host: string, state: string, reason: string | null): Promise<void> {
    await this.db
      .updateTable('services')
      .set({ backend_state: state, backend_state_reason: reason })
      .where('host', '=', host)
      .where('binary', '=', BACKUP_BINARY)
      .execute();
  }

  async listServices(filter: { host?: string | undefined; binary?: string | undefined } = {}): Promise<ServiceRow[]> {
    let query = this.db.selectFrom('services').selectAll().where('deleted', '=', 0);
    if (filter.host) query = query.where('host', '=', filter.host);
    if (filter.binary) query = query.where('binary', '=', filter.binary);
    return query.orderBy('id').execute();
  }

  /** Backup services that can take work: enabled, driver initialised, heartbeat within service_down_time. */
  async upServices(query: UpServiceQuery): Promise<ServiceRow[]> {
    const threshold = new Date(Date.now() - query.serviceDownTimeMs).toISOString();
    let select = this.db
      .selectFrom('services')
      .selectAll()
      .where('deleted', '=', 0)
      .where('binary', '=', BACKUP_BINARY)
      .where('disabled', '=', 0)
      .where('backend_state', '=', 'up')
      .where('updated_at', '>=', threshold);
    if (query.availabilityZone) select = select.where('availability_zone', '=', query.availabilityZone);
    if (query.backendName) select = select.where('host', 'like', `%@${query.backendName}`);
    return select.orderBy('id').execute();
  }

  /** How many backups each of `hosts` holds an operation for (queued or running): placement's measure of load. */
  async operationsInFlight(hosts: readonly string[]): Promise<Map<string, number>> {
    const counts = new Map(hosts.map((host) => [host, 0]));
    if (hosts.length === 0) return counts;
    const rows = await this.db
      .selectFrom('backups')
      .select((eb) => ['host', eb.fn.countAll<string | number>().as('count')])
      .where('deleted', '=', 0)
      .where('host', 'in', [...hosts])
      .where('status', 'in', [...BACKUP_STATUSES_IN_FLIGHT])
      .groupBy('host')
      .execute();
    for (const row of rows) if (row.host !== null) counts.set(row.host, Number(row.count));
    return counts;
  }

  // --- volumes ---

  async insertVolume(volume: NewVolume): Promise<void> {
    await this.db.insertInto('volumes').values(volume).execute();
  }

  async getVolume(id: string, projectId?: string): Promise<VolumeRow | undefined> {
    let query = this.db.selectFrom('volumes').selectAll().where('id', '=', id).where('deleted', '=', 0);
    if (projectId !== undefined) query = query.where('project_id', '=', projectId);
    return query.executeTakeFirst();
  }

  async listVolumes(projectId: string | undefined): Promise<VolumeRow[]> {
    let query = this.db.selectFrom('volumes').selectAll().where('deleted', '=', 0);
    if (projectId !== undefined) query = query.where('project_id', '=', projectId);
    return query.orderBy('created_at', 'desc').orderBy('id').execute();
  }

  /** Change a volume's status only if it is in one of `expected`; returns whether it changed. */
  async transitionVolume(id: string, expected: readonly string[], patch: Partial<Pick<VolumeRow, 'status' | 'previous_status'>>): Promise<boolean> {
    const result = await this.db
      .updateTable('volumes')
      .set({ ...patch, updated_at: nowIso() })
      .where('id', '=', id)
      .where('deleted', '=', 0)
      .where('status', 'in', [...expected])
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  /** Put a volume left `backing-up` back to its previous status (Cinder's cleanup and failure path). */
  async restoreVolumeAfterBackup(id: string): Promise<void> {
    const volume = await this.getVolume(id);
    if (!volume || volume.status !== VolumeStatus.BackingUp) return;
    await this.transitionVolume(id, [VolumeStatus.BackingUp], {
      status: volume.previous_status ?? VolumeStatus.Available,
      previous_status: VolumeStatus.BackingUp,
    });
  }

  /** This host's volumes (files under `volumesDir`) in one of `statuses`. */
  async volumesInStatuses(statuses: readonly string[], volumesDir: string): Promise<VolumeRow[]> {
    const rows = await this.db.selectFrom('volumes').selectAll().where('deleted', '=', 0).where('status', 'in', [...statuses]).execute();
    // Compared here rather than with LIKE, whose escaping differs between SQLite and PostgreSQL.
    const folder = `${volumesDir.replace(/\/+$/, "")}/`;
    return rows.filter((volume) => volume.path.startsWith(folder));
  }

  /** Whether a live backup is in flight on `volumeId`: a create of it, or a restore into it. */
  async volumeHeldByBackup(volumeId: string): Promise<boolean> {
    const row = await this.db
      .selectFrom('backups')
      .select('id')
      .where('deleted', '=', 0)
      .where((eb) =>
        eb.or([
          eb.and([eb('status', '=', BackupStatus.Creating), eb('volume_id', '=', volumeId)]),
          eb.and([eb('status', '=', BackupStatus.Restoring), eb('restore_volume_id', '=', volumeId)]),
        ]),
      )
      .executeTakeFirst();
    return row !== undefined;
  }

  async softDeleteVolume(id: string): Promise<void> {
    const now = nowIso();
    await this.db
      .updateTable('volumes')
      .set({ deleted: 1, deleted_at: now, updated_at: now, status: VolumeStatus.Deleted })
      .where('id', '=', id)
      .execute();
  }

  // --- backups ---

  async insertBackup(backup: NewBackup): Promise<void> {
    await this.db.insertInto('backups').values(backup).execute();
  }

  async getBackup(id: string, projectId?: string): Promise<BackupRow | undefined> {
    let query = this.db.selectFrom('backups').selectAll().where('id', '=', id).where('deleted', '=', 0);
    if (projectId !== undefined) query = query.where('project_id', '=', projectId);
    return query.executeTakeFirst();
  }

  async listBackups(query: BackupListQuery): Promise<BackupRow[]> {
    let select = this.db.selectFrom('backups').selectAll().where('deleted', '=', 0);
    if (query.projectId !== undefined) select = select.where('project_id', '=', query.projectId);
    if (query.name !== undefined) select = select.where('display_name', '=', query.name);
    if (query.status !== undefined) select = select.where('status', '=', query.status);
    if (query.volumeId !== undefined) select = select.where('volume_id', '=', query.volumeId);
    const sort = query.sort && query.sort.length > 0 ? query.sort : ([['created_at', 'desc']] as const);
    for (const [column, direction] of sort) select = select.orderBy(column, direction);
    // A unique last key keeps the order total, so markers page deterministically.
    if (!sort.some(([column]) => column === 'id')) select = select.orderBy('id', sort[sort.length - 1]![1]);
    if (query.limit !== undefined) select = select.limit(query.limit);
    if (query.offset !== undefined) select = select.offset(query.offset);
    return select.execute();
  }

  async backupsOnHost(host: string, statuses: readonly string[]): Promise<BackupRow[]> {
    return this.db
      .selectFrom('backups')
      .selectAll()
      .where('host', '=', host)
      .where('deleted', '=', 0)
      .where('status', 'in', [...statuses])
      .orderBy('created_at')
      .execute();
  }

  /** `creating` backups that no host took (e.g. the process died between accepting and scheduling). */
  async unscheduledCreates(): Promise<BackupRow[]> {
    return this.db.selectFrom('backups').selectAll().where('deleted', '=', 0).where('status', '=', BackupStatus.Creating).where('host', 'is', null).execute();
  }

  /**
   * Update a backup only if it still matches `expected` (status in a list, a host, or no host). Returns
   * whether the row changed: the loser of a race learns it here.
   */
  async updateBackup(id: string, patch: BackupUpdate, expected: BackupExpectation = {}): Promise<boolean> {
    if (patch.status === undefined) return this.#updateBackupRow(id, patch, expected);
    // A status change lets go of the volume the old status held (domain/volume-holds.ts): the old status is read,
    // then the update is conditional on it, so the release always matches the status that was actually left.
    for (let attempt = 0; attempt < 5; attempt += 1) {
      const current = await this.getBackup(id);
      if (!current) return false;
      if (await this.#updateBackupRow(id, patch, { ...expected, currentStatus: current.status })) {
        if (current.status !== patch.status) await this.releaseVolumesHeldBy(current);
        return true;
      }
      // Refused by `expected`, unless the status moved between the read and the update: then read again.
      if ((await this.getBackup(id))?.status === current.status) return false;
    }
    return false;
  }

  async #updateBackupRow(id: string, patch: BackupUpdate, expected: BackupExpectation & { currentStatus?: string }): Promise<boolean> {
    let update = this.db.updateTable('backups').set({ ...patch, updated_at: nowIso() }).where('id', '=', id).where('deleted', '=', 0);
    if (expected.status) update = update.where('status', 'in', [...expected.status]);
    if (expected.currentStatus !== undefined) update = update.where('status', '=', expected.currentStatus);
    if (expected.host === null) update = update.where('host', 'is', null);
    else if (expected.host !== undefined) update = update.where('host', '=', expected.host);
    if (expected.worker === null) update = update.where('worker', 'is', null);
    else if (expected.worker !== undefined) update = update.where('worker', '=', expected.worker);
    if (expected.noChildren) {
      update = update.where(({ not, exists, selectFrom }) =>
        not(exists(selectFrom('backups as child').select('child.id').whereRef('child.parent_id', '=', 'backups.id').where('child.deleted', '=', 0))),
      );
    }
    const result = await update.executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  /** Undo the volume statuses `backup` (as it was) set for its in-flight status; a volume that moved on is left alone. */
  async releaseVolumesHeldBy(backup: Pick<BackupRow, 'status' | 'volume_id' | 'restore_volume_id'>): Promise<void> {
    for (const release of volumeReleasesOf(backup)) {
      if (release.to === 'previous') await this.restoreVolumeAfterBackup(release.volumeId);
      else await this.transitionVolume(release.volumeId, [release.from], { status: release.to });
    }
  }

  /** The placement claim: only one placer wins a `creating` backup that no host holds. */
  async claimCreateHost(id: string, host: string): Promise<boolean> {
    return this.updateBackup(id, { host }, { status: [BackupStatus.Creating], host: null });
  }

  /** Give a `creating` backup back to placement; only the host that holds it can. */
  async releaseCreateHost(id: string, host: string): Promise<boolean> {
    return this.updateBackup(id, { host: null, worker: null }, { status: [BackupStatus.Creating], host });
  }

  // --- work queued for hosts (several hosts on one PostgreSQL) ---

  /**
   * The host's claim of its queued work: backups in flight on one of `hosts` that no process runs yet get `worker`
   * set, oldest first, and are returned. Rows another claimer holds locked are skipped (FOR UPDATE SKIP LOCKED), and
   * the outer condition is checked again on the locked row, so each row goes to exactly one claimer.
   */
  async claimQueuedWork(hosts: readonly string[], worker: string, limit: number): Promise<BackupRow[]> {
    if (hosts.length === 0) return [];
    let queued = this.db
      .selectFrom('backups as queued')
      .select('queued.id')
      .where('queued.deleted', '=', 0)
      .where('queued.worker', 'is', null)
      .where('queued.host', 'in', [...hosts])
      .where('queued.status', 'in', [...BACKUP_STATUSES_IN_FLIGHT])
      .orderBy('queued.created_at')
      .limit(limit);
    if (this.kind === 'postgres') queued = queued.forUpdate().skipLocked();
    return this.db
      .updateTable('backups')
      .set({ worker, updated_at: nowIso() })
      .where('id', 'in', queued)
      .where('worker', 'is', null)
      .where('deleted', '=', 0)
      .where('status', 'in', [...BACKUP_STATUSES_IN_FLIGHT])
      .returningAll()
      .execute();
  }

  /** Backups with an operation in flight on any of `hosts` (queued or running). */
  async backupsInFlightOn(hosts: readonly string[]): Promise<BackupRow[]> {
    if (hosts.length === 0) return [];
    return this.db
      .selectFrom('backups')
      .selectAll()
      .where('deleted', '=', 0)
      .where('host', 'in', [...hosts])
      .where('status', 'in', [...BACKUP_STATUSES_IN_FLIGHT])
      .orderBy('created_at')
      .execute();
  }

  /** Backup services without a heartbeat within service_down_time (killed, partitioned, storage down, stopped). */
  async downServices(serviceDownTimeMs: number): Promise<ServiceRow[]> {
    const threshold = new Date(Date.now() - serviceDownTimeMs).toISOString();
    return this.db
      .selectFrom('services')
      .selectAll()
      .where('deleted', '=', 0)
      .where('binary', '=', BACKUP_BINARY)
      .where((eb) => eb.or([eb('updated_at', 'is', null), eb('updated_at', '<', threshold)]))
      .orderBy('id')
      .execute();
  }

  /** Wake the process serving `host` (PostgreSQL NOTIFY; a no-op on SQLite, where work stays in one process). */
  async notifyWork(host: string): Promise<void> {
    if (this.kind !== 'postgres') return;
    await sql`select pg_notify(${WORK_CHANNEL}, ${host})`.execute(this.db);
  }

  /**
   * Run `work` while holding a lock named `key` that every host sharing the database respects (a PostgreSQL
   * session advisory lock, released when `work` settles or the connection dies). On SQLite (one process) it only
   * runs `work`. One lock at a time per process, so holders never take every pooled connection from their work.
   */
  async withCrossHostLock<T>(key: string, work: () => Promise<T>): Promise<T> {
    if (this.kind !== 'postgres') return work();
    const run = this.#lockChain.catch(() => undefined).then(() =>
      this.db.connection().execute(async (connection) => {
        // Never wait forever: a holder that hangs makes this fail after lock_timeout instead.
        await sql`set lock_timeout = '30s'`.execute(connection);
        try {
          await sql`select pg_advisory_lock(${ADVISORY_LOCK_SPACE}, hashtext(${key}))`.execute(connection);
        } finally {
          await sql`reset lock_timeout`.execute(connection);
        }
        try {
          return await work();
        } finally {
          await sql`select pg_advisory_unlock(${ADVISORY_LOCK_SPACE}, hashtext(${key}))`.execute(connection);
        }
      }),
    );
    this.#lockChain = run.catch(() => undefined);
    return run;
  }

  async softDeleteBackup(id: string): Promise<boolean> {
    const now = nowIso();
    const result = await this.db
      .updateTable('backups')
      .set({ deleted: 1, deleted_at: now, updated_at: now, status: BackupStatus.Deleted })
      .where('id', '=', id)
      .where('deleted', '=', 0)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  /** The project's backup of a volume with the latest data_timestamp (Cinder's incremental parent). */
  async latestBackupOfVolume(volumeId: string, projectId: string): Promise<BackupRow | undefined> {
    return this.db
      .selectFrom('backups')
      .selectAll()
      .where('volume_id', '=', volumeId)
      .where('project_id', '=', projectId)
      .where('deleted', '=', 0)
      .orderBy('data_timestamp', 'desc')
      .limit(1)
      .executeTakeFirst();
  }

  /**
   * Take `id` as the parent of a new incremental: only while it is live and `available` (a row lock on PostgreSQL,
   * so a concurrent delete either sees the child or makes this fail).
   */
  async holdParent(id: string): Promise<boolean> {
    const result = await this.db
      .updateTable('backups')
      .set((eb) => ({ num_dependent_backups: eb.ref('num_dependent_backups') }))
      .where('id', '=', id)
      .where('deleted', '=', 0)
      .where('status', '=', BackupStatus.Available)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  async countChildren(id: string): Promise<number> {
    const row = await this.db
      .selectFrom('backups')
      .select((eb) => eb.fn.countAll<string | number>().as('count'))
      .where('parent_id', '=', id)
      .where('deleted', '=', 0)
      .executeTakeFirstOrThrow();
    return Number(row.count);
  }

  /** A backup row even when soft-deleted (import revives it, as Cinder does). */
  async getBackupIncludingDeleted(id: string): Promise<BackupRow | undefined> {
    return this.db.selectFrom('backups').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async replaceDeletedBackup(backup: NewBackup): Promise<boolean> {
    const { id, ...fields } = backup;
    const result = await this.db.updateTable('backups').set(fields).where('id', '=', id).where('deleted', '=', 1).executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  /** Other live backups whose data is the same objects (an imported copy of an exported backup). */
  async countSharingData(backup: Pick<BackupRow, 'id' | 'backend_name' | 'container' | 'service_metadata'>): Promise<number> {
    if (backup.container === null || backup.service_metadata === null) return 0;
    const row = await this.db
      .selectFrom('backups')
      .select((eb) => eb.fn.countAll<string | number>().as('count'))
      .where('deleted', '=', 0)
      .where('id', '!=', backup.id)
      .where('container', '=', backup.container)
      .where('service_metadata', '=', backup.service_metadata)
      .where('backend_name', backup.backend_name === null ? 'is' : '=', backup.backend_name)
      .executeTakeFirstOrThrow();
    return Number(row.count);
  }

  /** What a project's live backups count against its quota (Cinder counts every backup until it is deleted). */
  async backupUsage(projectId: string): Promise<ProjectBackupUsage> {
    const row = await this.db
      .selectFrom('backups')
      .select((eb) => [eb.fn.countAll<string | number>().as('count'), eb.fn.sum<string | number | null>('size').as('gigabytes')])
      .where('project_id', '=', projectId)
      .where('deleted', '=', 0)
      .executeTakeFirstOrThrow();
    return { backups: Number(row.count), gigabytes: Number(row.gigabytes ?? 0) };
  }

  /** What a project's live volumes count against its volume quotas (every status until deleted, as Cinder). */
  async volumeUsage(projectId: string): Promise<ProjectVolumeUsage> {
    const row = await this.db
      .selectFrom('volumes')
      .select((eb) => [eb.fn.countAll<string | number>().as('count'), eb.fn.sum<string | number | null>('size').as('gigabytes')])
      .where('project_id', '=', projectId)
      .where('deleted', '=', 0)
      .executeTakeFirstOrThrow();
    return { volumes: Number(row.count), gigabytes: Number(row.gigabytes ?? 0) };
  }

  /** Per-project hard limits that override the configured defaults. */
  async quotaLimits(projectId: string): Promise<Map<string, number>> {
    const rows = await this.db.selectFrom('quotas').select(['resource', 'hard_limit']).where('project_id', '=', projectId).execute();
    return new Map(rows.map((row) => [row.resource, row.hard_limit]));
  }

  async updateVolume(id: string, patch: Partial<Pick<VolumeRow, 'display_name' | 'display_description' | 'metadata' | 'size' | 'status'>>): Promise<void> {
    await this.db.updateTable('volumes').set({ ...patch, updated_at: nowIso() }).where('id', '=', id).where('deleted', '=', 0).execute();
  }

  /** Enable or disable a service (`modified_at`, not a heartbeat); returns the rows changed. */
  async setServiceDisabled(host: string, binary: string, disabled: boolean, reason: string | null): Promise<number> {
    const result = await this.db
      .updateTable('services')
      .set({ disabled: disabled ? 1 : 0, disabled_reason: reason, modified_at: nowIso() })
      .where('host', '=', host)
      .where('binary', '=', binary)
      .where('deleted', '=', 0)
      .executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  async adjustDependentCount(parentId: string, delta: 1 | -1): Promise<void> {
    let update = this.db
      .updateTable('backups')
      .set((eb) => ({ num_dependent_backups: eb('num_dependent_backups', '+', delta) }))
      .where('id', '=', parentId);
    if (delta < 0) update = update.where('num_dependent_backups', '>', 0);
    await update.execute();
  }
}
