/**
 * NFS failures mapped to the contract's typed errors. The original failure is kept as `cause`; messages name the
 * backend, the container and object, and say what to do.
 */
import { AbortedError, NotFoundError, StorageAuthError, StorageUnavailableError, StowageError, describeError } from '@stowage/driver-contract';
import { errorDetails, isAbortError, networkErrorCode, type CallContext } from '@stowage/driver-utils';
import { MountError, Nfs3Error } from './nfs3/nfs3-client.js';
import { RpcConnectionError, RpcRejectedError, RpcTimeoutError } from './rpc/rpc-client.js';
import { XdrError } from './rpc/xdr.js';

/** What a failed call was doing (`operation`: e.g. `put of object volumebackups/a/b`), for messages. */
export interface NfsCallContext extends CallContext {
  /** `server:/export`, for messages. */
  readonly where: string;
  /** The AUTH_SYS identity, for permission messages. */
  readonly identity: string;
}

/** True for an NFS status error with one of `codes`. */
export function isNfsStatus(error: unknown, ...codes: string[]): error is Nfs3Error {
  return error instanceof Nfs3Error && codes.includes(error.code);
}

/** Map any failure of an NFS call to the contract's typed errors. */
export function toStowageError(error: unknown, context: NfsCallContext): StowageError {
  if (StowageError.isStowageError(error)) return error;
  const details = errorDetails(context, error);
  const where = `nfs backend ${context.backend}: ${context.operation}`;
  if (isAbortError(error)) return new AbortedError(`${where} was cancelled`, details);
  if (error instanceof MountError) {
    return new StorageUnavailableError(
      `${where} failed: the server refused to mount ${context.where} (${error.code}); check that the export path is right and exported to this host (ganesha: Export_Id, Pseudo, Clients)`,
      details,
    );
  }
  if (error instanceof Nfs3Error) {
    switch (error.code) {
      case 'NFS3ERR_NOENT':
        return new NotFoundError(`${where} failed: ${context.object === undefined ? 'the folder' : 'the object'} does not exist (${error.code})`, details);
      case 'NFS3ERR_NOSPC':
      case 'NFS3ERR_DQUOT':
        return new StorageUnavailableError(
          `${where} failed: no space left on ${context.where} (${error.code}${error.code === 'NFS3ERR_DQUOT' ? `, quota of ${context.identity} exceeded` : ''}); free space or raise the quota`,
          details,
        );
      case 'NFS3ERR_ACCES':
      case 'NFS3ERR_PERM':
        return new StorageAuthError(
          `${where} was refused (${error.code}): ${context.identity} may not write there; set uid/gid to the owner of the export's folders or fix the export's squash settings`,
          details,
        );
      case 'NFS3ERR_ROFS':
        return new StorageUnavailableError(`${where} failed: ${context.where} is exported read-only (${error.code}); export it with Access_Type = RW`, details);
      case 'NFS3ERR_STALE':
      case 'NFS3ERR_BADHANDLE':
        return new StorageUnavailableError(
          `${where} failed: the server no longer knows the file handle (${error.code}), even after looking the path up again; the export was replaced or moved`,
          details,
        );
      case 'NFS3ERR_JUKEBOX':
      case 'NFS3ERR_IO':
      case 'NFS3ERR_SERVERFAULT':
        return new StorageUnavailableError(`${where} failed: the server reported ${error.code}; retry later`, details);
      default:
        return new StowageError(`${where} failed: the server answered ${error.code}`, details);
    }
  }
  if (error instanceof RpcTimeoutError) {
    return new StorageUnavailableError(`${where} got no answer in time (${error.message}); check that the NFS server at ${context.where} is up and not overloaded`, details);
  }
  if (error instanceof RpcRejectedError) {
    if (error.code === 'RPC_AUTH_ERROR') {
      return new StorageAuthError(`${where} was refused at the RPC level (${error.message}); the export may not accept AUTH_SYS (SecType)`, details);
    }
    return new StorageUnavailableError(`${where} failed: ${error.message}; check that ${context.where} is an NFSv3 server`, details);
  }
  const code = networkErrorCode(error);
  if (error instanceof RpcConnectionError || code !== undefined) {
    return new StorageUnavailableError(
      `${where} failed: cannot reach the NFS server at ${context.where} (${code ?? (error as RpcConnectionError).code}: ${describeError(error)}); check that it is running and reachable`,
      details,
    );
  }
  if (error instanceof XdrError) return new StorageUnavailableError(`${where} failed: the server sent a malformed reply (${error.message})`, details);
  return new StowageError(`${where} failed: ${describeError(error)}`, details);
}
