/**
 * Backup create: the request (volume and parent checks, quota, the `creating` row), then placement and the run on
 * the chosen host, as a loop: a host whose storage turns out unreachable releases the backup, the attempt is
 * recorded, and placement picks again among the hosts not tried yet. With none left the backup ends `error` with a
 * fail_reason naming every host tried and why.
 */
import { BackupEvents, describeError, type BackupLocation } from '@stowage/core';
import type { BackupRow, VolumeRow } from '../db/tables.js';
import { InvalidState, NotFound } from '../domain/errors.js';
import { parseJsonObject } from '../domain/json-object.js';
import { newBackupRow } from '../domain/new-backup-row.js';
import { BackupStatus, VolumeStatus } from '../domain/statuses.js';
import type { CreateSteps } from '../manager/backup-manager.js';
import { backupUsagePayload } from '../notifications/backup-payload.js';
import { scopeOf, type Caller, type OperationDeps } from './context.js';

/** One host placement tried for a create, and why it could not take it. */
export interface SchedulingAttempt {
  readonly host: string;
  readonly reason: string;
}

export interface CreateBackupRequest {
  readonly volumeId: string;
  readonly name: string | null;
  readonly description: string | null;
  readonly container: string | null;
  readonly incremental: boolean;
  /** Allows an `in-use` volume. */
  readonly force: boolean;
  readonly snapshotId: string | null;
  readonly metadata: Readonly<Record<string, string>>;
  /** 3.51 (Cinder 21.x ignored it: bug 1912624); honoured here. */
  readonly availabilityZone: string | null;
}

/** Accept a create: the row is `creating` and the volume `backing-up` when this returns; placement runs after. */
export async function createBackup(deps: OperationDeps, caller: Caller, request: CreateBackupRequest): Promise<BackupRow> {
  const { store, quotas } = deps;
  if (request.snapshotId) throw new NotFound(`Snapshot ${request.snapshotId} could not be found.`);
  const volume = await store.getVolume(request.volumeId, scopeOf(caller));
  if (!volume) throw new NotFound(`Volume ${request.volumeId} could not be found.`);
  const allowedStatuses: string[] = request.force ? [VolumeStatus.Available, VolumeStatus.InUse] : [VolumeStatus.Available];
  if (!allowedStatuses.includes(volume.status)) {
    throw new InvalidState(`Invalid volume: Volume to be backed up must be available or in-use, but the current status is "${volume.status}".`);
  }
  let parent: BackupRow | undefined;
  if (request.incremental) {
    // Only the caller's own project's backups can be parents (bug 1869746).
    parent = await store.latestBackupOfVolume(volume.id, caller.projectId);
    if (!parent) throw new InvalidState('Invalid backup: No backups available to do an incremental backup.');
    if (parent.status !== BackupStatus.Available) throw new InvalidState('Invalid backup: The parent backup must be available for incremental backup.');
  }
  const row = newBackupRow({
    id: crypto.randomUUID(),
    projectId: caller.projectId,
    userId: caller.userId,
    volumeId: volume.id,
    size: volume.size,
    name: request.name,
    description: request.description,
    container: request.container,
    parentId: parent?.id ?? null,
    availabilityZone: request.availabilityZone,
    metadata: request.metadata,
  });
  await quotas.reserveBackup(caller.projectId, volume.size, async () => {
    if (!(await store.transitionVolume(volume.id, allowedStatuses, { status: VolumeStatus.BackingUp, previous_status: volume.status }))) {
      throw new InvalidState(`Invalid volume: Volume ${volume.id} changed status while the backup was requested; try again.`);
    }
    try {
      await store.insertBackup(row);
    } catch (error) {
      // The volume was taken first: a refused insert gives it back before the error reaches the client.
      await store.restoreVolumeAfterBackup(volume.id);
      throw error;
    }
    // After the insert: a parent delete from here on sees the child; one that won before shows here (race of issue 11).
    if (parent && !(await store.holdParent(parent.id))) {
      await store.softDeleteBackup(row.id);
      await store.restoreVolumeAfterBackup(volume.id);
      throw new InvalidState('Invalid backup: The parent backup must be available for incremental backup.');
    }
  });
  // Accepted even with no backup service up (as Cinder): placement then fails it with a clear reason.
  deps.background.run('backup create', () => placeAndRunCreate(deps, { backup: row, volume, parent }));
  return row;
}

/** Creates accepted but never placed (the process stopped in between) are placed now. */
export async function placeUnplacedCreates(deps: OperationDeps): Promise<void> {
  const { store } = deps;
  for (const backup of await store.unscheduledCreates()) {
    const create = await unplacedCreateOf(deps, backup);
    deps.background.run('backup create', () => placeAndRunCreate(deps, create));
  }
}

/** A `creating` backup that no host holds yet, with what placement needs to know about it. */
export interface UnplacedCreate {
  readonly backup: BackupRow;
  readonly volume: VolumeRow | undefined;
  readonly parent: BackupRow | undefined;
}

/**
 * Place a `creating` backup and run it, trying other hosts while storage is unreachable. Never throws. `tried`: the
 * hosts an earlier attempt (on another host of a shared database) already tried. With several hosts on one
 * PostgreSQL the claimed row is queued for its host, which runs it (`runQueuedCreate`) and goes on placing from there.
 */
export async function placeAndRunCreate(deps: OperationDeps, create: UnplacedCreate, tried: readonly SchedulingAttempt[] = []): Promise<void> {
  const { store, placement, logger } = deps;
  const { backup, volume, parent } = create;
  const backupId = backup.id;
  try {
    const availabilityZone = backup.availability_zone ?? volume?.availability_zone;
    const backendName = parent?.backend_name ?? undefined;
    let attempts: readonly SchedulingAttempt[] = tried;
    for (;;) {
      await store.updateBackup(backupId, { scheduling_attempts: JSON.stringify(attempts) }, { status: [BackupStatus.Creating] });
      const placed = await placement.placeCreate({ availabilityZone, backendName, exclude: attempts.map((attempt) => attempt.host) });
      if (!placed) {
        await failUnplaced(deps, backupId, backup.volume_id, noCandidateReason(attempts, availabilityZone, backendName), { unplacedOnly: true });
        return;
      }
      // The claim: only one placer wins a backup that has no host yet (a delete may also have taken it).
      if (!(await store.claimCreateHost(backupId, placed.host))) return;
      logger.info({ backup: backupId, host: placed.host, tried: attempts }, 'backup scheduled');
      if (deps.work) {
        await deps.work.dispatch(placed.host);
        return;
      }
      const next = await runCreateOn(deps, create, placed.host, attempts);
      if (!next) return;
      attempts = next;
    }
  } catch (error) {
    logger.error({ backup: backupId, err: describeError(error) }, 'scheduling the backup failed');
    await failUnplaced(deps, backupId, undefined, `scheduling failed: ${describeError(error)}`).catch(() => undefined);
  }
}

/**
 * A create queued for one of this process's hosts and claimed by it (shared database): run it, and when the host's
 * storage turns out unreachable, place it again among the hosts not tried yet. Never throws.
 */
export async function runQueuedCreate(deps: OperationDeps, backup: BackupRow): Promise<void> {
  try {
    const create = await unplacedCreateOf(deps, backup);
    const next = await runCreateOn(deps, create, backup.host!, parseAttempts(backup.scheduling_attempts));
    if (next) await placeAndRunCreate(deps, create, next);
  } catch (error) {
    deps.logger.error({ backup: backup.id, err: describeError(error) }, 'running a queued backup failed');
    await failUnplaced(deps, backup.id, undefined, `scheduling failed: ${describeError(error)}`).catch(() => undefined);
  }
}

/** What placement needs to know about a `creating` row read back from the database. */
export async function unplacedCreateOf(deps: OperationDeps, backup: BackupRow): Promise<UnplacedCreate> {
  const volume = await deps.store.getVolume(backup.volume_id);
  const parent = backup.parent_id ? await deps.store.getBackup(backup.parent_id) : undefined;
  return { backup, volume, parent };
}

/** The hosts a create already tried, as `scheduling_attempts` records them. */
export function parseAttempts(text: string): SchedulingAttempt[] {
  try {
    const parsed: unknown = JSON.parse(text);
    return Array.isArray(parsed) ? parsed.filter((entry): entry is SchedulingAttempt => typeof entry?.host === 'string' && typeof entry?.reason === 'string') : [];
  } catch {
    return [];
  }
}

/**
 * Run a create on `host` (its claimed host) in this process. Returns the attempts to place it again with when the
 * host's storage was unreachable (the backup released), else undefined (done, failed or moved on).
 */
async function runCreateOn(deps: OperationDeps, create: UnplacedCreate, host: string, tried: readonly SchedulingAttempt[]): Promise<SchedulingAttempt[] | undefined> {
  const { store, manager } = deps;
  const { backup, parent } = create;
  const parentLocation = parent?.container && parent.service_metadata ? { container: parent.container, prefix: parent.service_metadata } : undefined;
  const outcome = await manager.createBackup(host, backup.id, createSteps(deps, backup, parentLocation, host));
  if (outcome.kind !== 'storage-unreachable') return undefined;
  // Released only if still ours: a delete or reset meanwhile ends the create here.
  if (!(await store.releaseCreateHost(backup.id, host))) return undefined;
  return [...tried, { host, reason: outcome.reason }];
}

/** The create's transitions while it runs on `host`. */
function createSteps(deps: OperationDeps, accepted: BackupRow, parent: BackupLocation | undefined, host: string): CreateSteps {
  const { store, notifier, logger } = deps;
  const backupId = accepted.id;
  let volume: VolumeRow | undefined;
  // Every transition requires the row still on `host`: a host that took over from this one (it looked dead) wins.
  const failed = async (reason: string, error?: unknown) => {
    const backup = await store.getBackup(backupId);
    if (!backup || backup.host !== host) return;
    await store.restoreVolumeAfterBackup(backup.volume_id);
    await store.updateBackup(backupId, { status: BackupStatus.Error, fail_reason: reason }, { status: [BackupStatus.Creating], host });
    logger.error({ backup: backupId, reason, err: error === undefined ? undefined : describeError(error) }, 'backup failed');
  };
  return {
    async begin() {
      // Read again: a create may wait for a slot (backup_max_operations) while it is deleted or reset.
      const backup = await store.getBackup(backupId);
      if (!backup || backup.status !== BackupStatus.Creating || backup.host !== host) return undefined;
      notifier.notify(BackupEvents.createStart, backupUsagePayload(backup));
      const parentRow = accepted.parent_id ? await store.getBackup(accepted.parent_id) : undefined;
      return {
        backupId,
        volumeId: backup.volume_id,
        container: backup.container,
        parent,
        projectId: backup.project_id,
        parentEncryptionKeyId: parentRow?.encryption_key_id ?? null,
      };
    },
    async started(location) {
      volume = await store.getVolume(accepted.volume_id);
      if (!volume || volume.status !== VolumeStatus.BackingUp) {
        await failed(`Invalid volume: volume ${accepted.volume_id} is ${volume?.status ?? 'gone'}, expected ${VolumeStatus.BackingUp}`);
        return undefined;
      }
      // `service` set from here on: the backend may hold data of this backup, so a delete must go there.
      await store.updateBackup(
        backupId,
        {
          service: location.driverName,
          backend_name: location.backendName,
          container: location.container,
          service_metadata: location.prefix,
          availability_zone: accepted.availability_zone ?? location.availabilityZone,
        },
        { status: [BackupStatus.Creating], host },
      );
      return { path: volume.path, sizeGiB: volume.size, metadata: parseJsonObject(volume.metadata) };
    },
    progress(percent) {
      void store.getBackup(backupId).then(
        (backup) => backup && notifier.notify(BackupEvents.createProgress, { ...backupUsagePayload(backup), backup_percent: percent }),
        () => undefined,
      );
    },
    async finished(result) {
      const done = await store.updateBackup(
        backupId,
        {
          status: BackupStatus.Available,
          size: volume!.size,
          object_count: result.objectCount,
          fail_reason: null,
          encryption_key_id: result.metadata.encryption?.keyId ?? null,
        },
        { status: [BackupStatus.Creating], host },
      );
      await store.restoreVolumeAfterBackup(accepted.volume_id);
      if (!done) return; // deleted or reset meanwhile: Cinder leaves such a backup as it is
      if (accepted.parent_id) await store.adjustDependentCount(accepted.parent_id, 1);
      const backup = await store.getBackup(backupId);
      if (backup) notifier.notify(BackupEvents.createEnd, backupUsagePayload(backup));
    },
    failed,
  };
}

async function failUnplaced(
  deps: OperationDeps,
  backupId: string,
  volumeId: string | undefined,
  reason: string,
  options: { readonly unplacedOnly?: boolean } = {},
): Promise<void> {
  const { store, logger } = deps;
  // `unplacedOnly`: a placer that lost the race for the row (another host placed it meanwhile) must not fail it.
  if (volumeId && !options.unplacedOnly) await store.restoreVolumeAfterBackup(volumeId);
  const expected = options.unplacedOnly ? { status: [BackupStatus.Creating], host: null } : { status: [BackupStatus.Creating] };
  // host and service stay empty: the backup never reached a backend, so the API can delete it on its own.
  if (!(await store.updateBackup(backupId, { status: BackupStatus.Error, fail_reason: reason, host: null, service: null }, expected))) return;
  if (volumeId && options.unplacedOnly) await store.restoreVolumeAfterBackup(volumeId);
  logger.warn({ backup: backupId, reason }, 'backup could not be scheduled');
}

export function noCandidateReason(tried: readonly SchedulingAttempt[], availabilityZone: string | undefined, backendName: string | undefined): string {
  const where = `in availability zone ${availabilityZone ?? '(any)'}${backendName ? ` with backend name ${backendName} (the parent backup's)` : ''}`;
  if (tried.length === 0) {
    return `Service not found for creating backup: no cinder-backup service is up and enabled ${where}.`;
  }
  const attempts = tried.map((attempt) => `${attempt.host} (${attempt.reason})`).join('; ');
  return `No backup service could take the backup. Tried: ${attempts}. No other cinder-backup service is up and enabled ${where}.`;
}
