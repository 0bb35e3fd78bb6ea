/**
 * Start-up recovery of one backend (reference 1.7): operations a previous process left half done on this host are
 * reset as Cinder does, and interrupted deletes resume once the driver is set up. With several hosts on one
 * PostgreSQL, work still queued for the host (no worker yet) is left for its claim to run, and a live host takes over
 * the in-flight operations of a host that went down (`takeOverBackup`).
 */
import { describeError } from '@stowage/core';
import type { BackupRow } from '../db/tables.js';
import { BackupStatus, VolumeStatus } from '../domain/statuses.js';
import type { BackendStartHooks } from '../manager/backup-manager.js';
import { parseAttempts, placeAndRunCreate, unplacedCreateOf } from './backup-create.js';
import { runDelete } from './backup-delete.js';
import type { OperationDeps } from './context.js';
import { removeVolumeFile } from './volume-files.js';

export const INCOMPLETE_BACKUP_REASON = 'incomplete backup reset on manager restart';

export function recoveryHooks(deps: OperationDeps): BackendStartHooks {
  return {
    cleanupIncompleteOperations: (host) => cleanupIncompleteOperations(deps, host),
    // Shared database: the host's claim picks up its queued work (interrupted deletes were queued again above).
    onWorking: (host) => void (deps.work ? deps.work.dispatch(host) : resumeDeletes(deps, host)),
  };
}

async function cleanupIncompleteOperations(deps: OperationDeps, host: string): Promise<void> {
  const { store, logger } = deps;
  const backups = await store.backupsOnHost(host, [BackupStatus.Creating, BackupStatus.Restoring, BackupStatus.Deleting]);
  for (const backup of backups) {
    try {
      // Shared database: queued work (no worker) waits for this host's claim; a row another host took is not ours.
      if (deps.work && (backup.worker === null || backup.worker === deps.work.workerId)) continue;
      const ours = deps.work ? { host, worker: backup.worker } : {};
      if (deps.work && backup.status === BackupStatus.Deleting && !backup.encryption_key_id) {
        await store.updateBackup(backup.id, { worker: null }, { status: [BackupStatus.Deleting], ...ours });
        logger.info({ backup: backup.id, status: backup.status, host }, 'queued an interrupted delete again');
        continue;
      }
      if (backup.status === BackupStatus.Creating) {
        await store.restoreVolumeAfterBackup(backup.volume_id);
        await store.updateBackup(backup.id, { status: BackupStatus.Error, fail_reason: INCOMPLETE_BACKUP_REASON }, { status: [BackupStatus.Creating], ...ours });
      } else if (backup.status === BackupStatus.Restoring) {
        if (backup.restore_volume_id) {
          await store.transitionVolume(backup.restore_volume_id, [VolumeStatus.RestoringBackup], { status: VolumeStatus.ErrorRestoring });
          // A volume being created from the backup (3.47) ends `error`, as Cinder's creating volumes do.
          await store.transitionVolume(backup.restore_volume_id, [VolumeStatus.Creating], { status: VolumeStatus.Error });
        }
        await store.updateBackup(backup.id, { status: BackupStatus.Available }, { status: [BackupStatus.Restoring], ...ours });
      } else if (backup.encryption_key_id) {
        await store.updateBackup(backup.id, { status: BackupStatus.ErrorDeleting }, { status: [BackupStatus.Deleting], ...ours });
      }
      // Plain `deleting` backups resume once the driver is set up (resumeDeletes).
      logger.info({ backup: backup.id, status: backup.status, host }, 'cleaned up incomplete backup operation');
    } catch (error) {
      logger.error({ backup: backup.id, err: describeError(error) }, 'cleaning up an incomplete backup operation failed');
    }
  }
}

async function resumeDeletes(deps: OperationDeps, host: string): Promise<void> {
  try {
    for (const backup of await deps.store.backupsOnHost(host, [BackupStatus.Deleting])) runDelete(deps, host, backup.id);
  } catch (error) {
    deps.logger.error({ host, err: describeError(error) }, 'resuming interrupted deletes failed');
  }
}

/**
 * Take over one in-flight operation of `backup`, whose host is down (no heartbeat within service_down_time), on
 * `taker` (a working backend of this process with the same backend name). Every branch is a conditional UPDATE on
 * the dead host and the worker seen, so of several live hosts exactly one takes it:
 * - a create queued there and never started goes back to placement (the dead host counted as tried);
 * - a running create becomes `error` naming the dead host, after `taker` removed its partial objects;
 * - a delete is queued for `taker` and runs to the end there;
 * - a restore ends: the backup is `available` again, its target volume `error_restoring` (a new one `error`).
 */
export async function takeOverBackup(deps: OperationDeps, backup: BackupRow, taker: string): Promise<void> {
  const { store, logger, config } = deps;
  const work = deps.work;
  if (!work || backup.host === null) return;
  const dead = backup.host;
  const seen = { host: dead, worker: backup.worker };
  const down = `backup host ${dead} is down (no heartbeat for service_down_time, ${config.serviceDownTimeMs / 1000} s)`;
  const tookOver = (what: string) => logger.warn({ backup: backup.id, status: backup.status, from: dead, to: taker }, what);
  switch (backup.status) {
    case BackupStatus.Creating: {
      if (backup.worker === null) {
        if (!(await store.updateBackup(backup.id, { host: null }, { status: [BackupStatus.Creating], ...seen }))) return;
        tookOver('took over a create queued on a down host: placing it again');
        const create = await unplacedCreateOf(deps, { ...backup, host: null });
        deps.background.run('backup create', () => placeAndRunCreate(deps, create, [...parseAttempts(backup.scheduling_attempts), { host: dead, reason: down }]));
        return;
      }
      if (!(await store.updateBackup(backup.id, { host: taker, worker: work.workerId }, { status: [BackupStatus.Creating], ...seen }))) return;
      tookOver('took over a create that a down host was running');
      deps.background.run('takeover', () => failTakenCreate(deps, backup, taker, down));
      return;
    }
    case BackupStatus.Deleting:
      if (!(await store.updateBackup(backup.id, { host: taker, worker: null }, { status: [BackupStatus.Deleting], ...seen }))) return;
      tookOver('took over a delete of a down host: finishing it here');
      await work.dispatch(taker);
      return;
    case BackupStatus.Restoring:
      // The status change lets go of the target volume the restore held (error_restoring, or error if new).
      if (!(await store.updateBackup(backup.id, { status: BackupStatus.Available, restore_volume_id: null, host: taker, worker: null }, { status: [BackupStatus.Restoring], ...seen }))) return;
      tookOver('took over a restore of a down host: backup available, target volume error_restoring');
      return;
    default:
  }
}

/** A taken-over create: its partial objects removed on `taker` (when it wrote any), then `error` naming the dead host. */
async function failTakenCreate(deps: OperationDeps, backup: BackupRow, taker: string, down: string): Promise<void> {
  const { store, manager } = deps;
  const fail = async (reason: string) => {
    await store.updateBackup(backup.id, { status: BackupStatus.Error, fail_reason: reason }, { status: [BackupStatus.Creating], host: taker, worker: deps.work!.workerId });
  };
  // `service` is set once the create may have written data; an import (service empty, prefix set) owns none.
  const location = backup.service !== null && backup.container !== null && backup.service_metadata !== null
    ? { container: backup.container, prefix: backup.service_metadata }
    : undefined;
  if (!location) {
    await fail(`${down} while the backup was starting; nothing was written, create it again`);
    return;
  }
  await manager.deleteBackup(taker, backup.id, {
    begin: async () => ({ location, needsWorkingBackend: true }),
    backendDown: () => fail(`${down} while the backup was running; its partial data could not be removed: backend ${taker} is down`),
    finished: () => fail(`${down} while the backup was running; ${taker} took it over and removed its partial data`),
    failed: (reason) => fail(`${down} while the backup was running; removing its partial data on ${taker} failed: ${reason}`),
  });
}

/** Volume statuses that only last while this process works on the volume, and where a crash leaves each. */
const TRANSIENT_VOLUME_STATUSES: readonly string[] = [
  VolumeStatus.Creating,
  VolumeStatus.Extending,
  VolumeStatus.Deleting,
  VolumeStatus.BackingUp,
  VolumeStatus.RestoringBackup,
];

/**
 * Start-up, before the API listens: this host's volumes left in a transient status by a previous process. A volume
 * that a live backup still holds (a create or restore the backend recovery will settle) is left to that recovery;
 * the rest end where the interrupted operation's failure would have put them, and interrupted deletes finish.
 */
export async function sweepTransientVolumes(deps: OperationDeps): Promise<void> {
  const { store, config, logger } = deps;
  // Shared database (and volumes folder): another host's API may be working on a volume right now; only one
  // untouched for service_down_time is surely left behind.
  const settledBefore = new Date(Date.now() - config.serviceDownTimeMs).toISOString();
  for (const volume of await store.volumesInStatuses(TRANSIENT_VOLUME_STATUSES, config.volumesDir)) {
    try {
      if (deps.work && (volume.updated_at ?? volume.created_at) > settledBefore) continue;
      if (await store.volumeHeldByBackup(volume.id)) continue;
      switch (volume.status) {
        case VolumeStatus.Deleting:
          await removeVolumeFile(volume.path);
          await store.softDeleteVolume(volume.id);
          break;
        case VolumeStatus.BackingUp:
          await store.restoreVolumeAfterBackup(volume.id);
          break;
        case VolumeStatus.RestoringBackup:
          await store.transitionVolume(volume.id, [VolumeStatus.RestoringBackup], { status: VolumeStatus.ErrorRestoring });
          break;
        case VolumeStatus.Extending:
          await store.transitionVolume(volume.id, [VolumeStatus.Extending], { status: VolumeStatus.ErrorExtending });
          break;
        default:
          await store.transitionVolume(volume.id, [VolumeStatus.Creating], { status: VolumeStatus.Error });
      }
      logger.info({ volume: volume.id, status: volume.status }, 'reset a volume an interrupted operation left behind');
    } catch (error) {
      logger.error({ volume: volume.id, err: describeError(error) }, 'resetting an interrupted volume operation failed');
    }
  }
}
