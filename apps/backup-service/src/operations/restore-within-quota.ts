/**
 * A restore that creates its target volume counts that volume against the project's volume quotas and the size
 * limit, as a volume create does; a restore into an existing volume changes no usage.
 */
import { findBackup } from './backup-queries.js';
import { restoreBackup, type RestoreAccepted, type RestoreRequest } from './backup-restore.js';
import type { Caller, OperationDeps } from './context.js';
import { checkVolumeSize } from './volume-operations.js';

export async function restoreBackupWithinQuota(deps: OperationDeps, caller: Caller, backupId: string, request: RestoreRequest): Promise<RestoreAccepted> {
  if (request.volumeId) return restoreBackup(deps, caller, backupId, request);
  const backup = await findBackup(deps, caller, backupId);
  checkVolumeSize(deps, backup.size);
  // Under the project's volume lock: the new volume row is inserted by the restore before another check runs.
  return deps.quotas.reserveVolume(caller.projectId, { volumes: 1, gigabytes: backup.size }, () => restoreBackup(deps, caller, backupId, request));
}
