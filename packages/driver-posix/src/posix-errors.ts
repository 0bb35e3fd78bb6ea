import { DriverSetupError, NotFoundError, StorageUnavailableError, StowageError } from '@stowage/driver-contract';
import { stat } from 'node:fs/promises';

const HINTS: Record<string, string> = {
  ENOENT: 'does not exist',
  ENOTDIR: 'is not a folder',
  EACCES: 'is not writable by this process (check owner and mode)',
  EPERM: 'is not writable by this process (check owner and mode)',
  EROFS: 'is on a read-only filesystem',
  ENOSPC: 'has no space left',
  EDQUOT: 'is over its disk quota',
  EIO: 'had an I/O error (check the disk or the mount)',
  ESTALE: 'is a stale network mount (remount it)',
};

export function errnoOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** A sentence naming what went wrong with `path`, e.g. "/srv/backups is on a read-only filesystem". */
export function describeFsError(path: string, error: unknown): string {
  const code = errnoOf(error);
  const hint = code === undefined ? undefined : HINTS[code];
  return hint === undefined ? `${path}: ${(error as Error).message ?? String(error)}` : `${path} ${hint} (${code})`;
}

export interface ObjectRef {
  readonly backend: string;
  readonly container: string;
  readonly object: string;
}

/**
 * Map a filesystem error during an object operation to the contract's typed errors, keeping it as `cause`. A missing
 * file is a missing object only while the backup path `root` is there: a path gone away (an unmounted network
 * mount) is an outage, never reported as data loss.
 */
export async function mapObjectError(error: unknown, action: string, ref: ObjectRef, path: string, root: string): Promise<StowageError> {
  if (StowageError.isStowageError(error)) return error;
  const where = `backend ${ref.backend}: ${action} ${ref.container}/${ref.object}`;
  if (errnoOf(error) === 'ENOENT') {
    if (!(await exists(root))) {
      return new StorageUnavailableError(`${where} failed: backup path ${root} does not exist (is the storage mounted?)`, { cause: error, ...ref });
    }
    return new NotFoundError(`${where}: object does not exist`, { cause: error, ...ref });
  }
  return new StorageUnavailableError(`${where} failed: ${describeFsError(path, error)}`, { cause: error, ...ref });
}

export function setupError(backend: string, message: string, cause?: unknown): DriverSetupError {
  return new DriverSetupError(`backend ${backend} (posix): ${message}`, { cause, backend });
}

export async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}
