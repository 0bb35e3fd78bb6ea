/** File-backed volumes with Cinder's statuses: create (also from a backup, 3.47), update, extend, delete. */
import { describeError } from '@stowage/core';
import { nowIso, type VolumeRow } from '../db/tables.js';
import { BadRequest, InvalidState, NotFound, OperationFailed } from '../domain/errors.js';
import { BackupStatus, VolumeStatus } from '../domain/statuses.js';
import { placeRestore, runRestore } from './backup-restore.js';
import { scopeOf, type Caller, type OperationDeps } from './context.js';
import { createVolumeFile, growVolumeFile, removeVolumeFile, volumeFilePath } from './volume-files.js';

const DELETABLE: readonly string[] = [
  VolumeStatus.Available,
  VolumeStatus.Error,
  VolumeStatus.ErrorRestoring,
  VolumeStatus.ErrorExtending,
  VolumeStatus.ErrorManaging,
];

export async function findVolume(deps: OperationDeps, caller: Caller, id: string): Promise<VolumeRow> {
  const volume = await deps.store.getVolume(id, scopeOf(caller));
  if (!volume) throw new NotFound(`Volume ${id} could not be found.`);
  return volume;
}

export async function listVolumes(
  deps: OperationDeps,
  filter: { readonly projectId: string | undefined; readonly name?: string | undefined; readonly status?: string | undefined },
): Promise<VolumeRow[]> {
  let volumes = await deps.store.listVolumes(filter.projectId);
  if (filter.name !== undefined) volumes = volumes.filter((volume) => volume.display_name === filter.name);
  if (filter.status !== undefined) volumes = volumes.filter((volume) => volume.status === filter.status);
  return volumes;
}

export interface CreateVolumeRequest {
  /** As the client sent it: an integer, or a string of digits. */
  readonly size: unknown;
  readonly name: string | null;
  readonly description: string | null;
  readonly metadata: Readonly<Record<string, string>>;
  readonly availabilityZone: string | null;
  /** 3.47 and later only (below, Cinder ignores `backup_id`). */
  readonly backupId: string | null;
  /** Other sources Cinder knows; refused here. */
  readonly unsupportedSources: ReadonlyArray<readonly [string, string | null | undefined]>;
}

/** Accept a create: the row is `creating`; the file is made (and the backup restored into it) after. */
export async function createVolume(deps: OperationDeps, caller: Caller, request: CreateVolumeRequest): Promise<VolumeRow> {
  const { store, config } = deps;
  const source = request.backupId ? await sourceBackup(deps, caller, request.backupId) : undefined;
  const requested = request.size ?? source?.backup.size;
  const size = typeof requested === 'string' && /^\d+$/.test(requested) ? Number(requested) : requested;
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size <= 0) {
    throw new BadRequest(`Invalid input received: Volume size '${String(requested ?? 'None')}' must be an integer and greater than 0`);
  }
  if (source && size < source.backup.size) {
    throw new BadRequest(`Invalid input received: Volume size '${size}' GB cannot be smaller than the backup size ${source.backup.size} GB. It must be >= backup size.`);
  }
  for (const [key, value] of request.unsupportedSources) {
    if (value) throw new BadRequest(`Invalid input received: creating a volume from ${key} is not supported by this service; restore a backup with POST /backups/{id}/restore`);
  }
  checkVolumeSize(deps, size);
  const zone = request.availabilityZone ?? config.storageAvailabilityZone;
  if (zone !== config.storageAvailabilityZone) throw new BadRequest(`Invalid input received: Availability zone '${zone}' is invalid.`);
  const id = crypto.randomUUID();
  const volume: VolumeRow = {
    id,
    project_id: caller.projectId,
    user_id: caller.userId,
    display_name: request.name,
    display_description: request.description,
    size,
    status: VolumeStatus.Creating,
    previous_status: null,
    availability_zone: zone,
    attach_status: 'detached',
    bootable: 0,
    path: volumeFilePath(config.volumesDir, id),
    metadata: JSON.stringify(request.metadata),
    created_at: nowIso(),
    updated_at: null,
    deleted: 0,
    deleted_at: null,
  };
  await deps.quotas.reserveVolume(caller.projectId, { volumes: 1, gigabytes: size }, () => store.insertVolume(volume));
  deps.background.run('volume create', () => makeVolume(deps, volume, source));
  return volume;
}

/** The largest volume a file can hold here: its byte size must stay an exact number (2^53 - 1). */
const LARGEST_VOLUME_GIB = Math.floor(Number.MAX_SAFE_INTEGER / 1024 ** 3);

/** Cinder's per_volume_size_limit (400 here, before anything is created or grown). */
export function checkVolumeSize(deps: OperationDeps, sizeGiB: number): void {
  const configured = deps.config.perVolumeSizeLimit;
  const limit = configured < 0 ? LARGEST_VOLUME_GIB : Math.min(configured, LARGEST_VOLUME_GIB);
  if (sizeGiB > limit) throw new BadRequest(`Invalid input received: Requested volume size ${sizeGiB}G is larger than maximum allowed limit ${limit}G.`);
}

/** The backup a 3.47 volume create restores: visible to the caller, available, with a host up to restore it. */
async function sourceBackup(deps: OperationDeps, caller: Caller, backupId: string) {
  const backup = await deps.store.getBackup(backupId, scopeOf(caller));
  if (!backup) throw new NotFound(`Backup ${backupId} could not be found.`);
  if (backup.status !== BackupStatus.Available) throw new InvalidState('Invalid backup: Backup status must be available');
  return { backup, placed: await placeRestore(deps, backup) };
}

async function makeVolume(deps: OperationDeps, volume: VolumeRow, source: Awaited<ReturnType<typeof sourceBackup>> | undefined): Promise<void> {
  const { store, config, logger } = deps;
  try {
    await createVolumeFile(volume.path, config.volumesDir, volume.size);
    if (source) {
      // The backup goes `restoring` and the volume stays `creating` until the restore ends (Cinder's flow).
      const started = await store.updateBackup(
        source.backup.id,
        { status: BackupStatus.Restoring, restore_volume_id: volume.id, host: source.placed.host, worker: null },
        { status: [BackupStatus.Available] },
      );
      if (started) return runRestore(deps, source.placed.host, source.backup.id, volume.id);
      await store.transitionVolume(volume.id, [VolumeStatus.Creating], { status: VolumeStatus.Error });
      logger.error({ volume: volume.id, backup: source.backup.id }, 'the backup stopped being available before the volume could be restored from it');
      return;
    }
    await store.transitionVolume(volume.id, [VolumeStatus.Creating], { status: VolumeStatus.Available });
  } catch (error) {
    logger.error({ volume: volume.id, err: describeError(error) }, 'creating the volume file failed');
    await store.transitionVolume(volume.id, [VolumeStatus.Creating], { status: VolumeStatus.Error }).catch(() => undefined);
  }
}

export interface VolumeUpdate {
  readonly name?: string | null | undefined;
  readonly description?: string | null | undefined;
  readonly metadata?: Readonly<Record<string, string>> | null | undefined;
}

export async function updateVolume(deps: OperationDeps, caller: Caller, volumeId: string, update: VolumeUpdate): Promise<VolumeRow> {
  const { store } = deps;
  const volume = await findVolume(deps, caller, volumeId);
  const patch: Parameters<typeof store.updateVolume>[1] = {};
  if (update.name !== undefined) patch.display_name = update.name;
  if (update.description !== undefined) patch.display_description = update.description;
  if (update.metadata !== undefined) patch.metadata = JSON.stringify(update.metadata ?? {});
  if (Object.keys(patch).length === 0) return volume;
  await store.updateVolume(volume.id, patch);
  return (await store.getVolume(volume.id)) ?? volume;
}

/** os-extend: `available` only, to a larger size; the file grows sparse. */
export async function extendVolume(deps: OperationDeps, caller: Caller, volumeId: string, newSize: number): Promise<void> {
  const { store } = deps;
  const volume = await findVolume(deps, caller, volumeId);
  if (volume.status !== VolumeStatus.Available) {
    throw new InvalidState(`Invalid volume: Volume status must be 'available' to extend, currently in '${volume.status}'`);
  }
  if (newSize <= volume.size) {
    throw new BadRequest(`Invalid input received: New size for extend must be greater than current size. (current: ${volume.size}, extended: ${newSize}).`);
  }
  checkVolumeSize(deps, newSize);
  await deps.quotas.reserveVolume(volume.project_id, { volumes: 0, gigabytes: newSize - volume.size }, async () => {
    if (!(await store.transitionVolume(volume.id, [VolumeStatus.Available], { status: VolumeStatus.Extending }))) {
      throw new InvalidState(`Invalid volume: Volume status must be 'available' to extend`);
    }
    try {
      await growVolumeFile(volume.path, newSize);
      await store.updateVolume(volume.id, { size: newSize });
      await store.transitionVolume(volume.id, [VolumeStatus.Extending], { status: VolumeStatus.Available });
    } catch (error) {
      await store.transitionVolume(volume.id, [VolumeStatus.Extending], { status: VolumeStatus.ErrorExtending });
      // The member sees Cinder's kind of message; the file system's own (paths, errno) goes to the log.
      deps.logger.error({ volume: volume.id, newSize, err: describeError(error) }, 'extending the volume file failed');
      throw new OperationFailed(`Volume ${volume.id} could not be extended to ${newSize}G.`, { cause: error });
    }
  });
}

/** Delete (202): only from the statuses Cinder allows; the file goes after the answer. */
export async function deleteVolume(deps: OperationDeps, caller: Caller, volumeId: string): Promise<void> {
  const { store, logger } = deps;
  const volume = await findVolume(deps, caller, volumeId);
  if (!(await store.transitionVolume(volume.id, DELETABLE, { status: VolumeStatus.Deleting }))) {
    throw new InvalidState(
      'Invalid volume: Volume status must be available or error or error_restoring or error_extending or error_managing and must not be migrating, attached, belong to a group, have snapshots, awaiting a transfer, or be disassociated from snapshots after volume transfer.',
    );
  }
  deps.background.run('volume delete', async () => {
    try {
      await removeVolumeFile(volume.path);
      await store.softDeleteVolume(volume.id);
    } catch (error) {
      logger.error({ volume: volume.id, err: describeError(error) }, 'deleting the volume file failed');
      await store.transitionVolume(volume.id, [VolumeStatus.Deleting], { status: VolumeStatus.ErrorDeleting }).catch(() => undefined);
    }
  });
}
