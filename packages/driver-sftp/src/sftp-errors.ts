/**
 * SFTP failures mapped to the contract's typed errors. ssh2 marks connection failures with a `level`
 * (`client-authentication`, `client-timeout`, `client-socket`) and ssh2-sftp-client copies only the message, so the
 * connection pool records why a connection failed (`ConnectFailure`) instead of parsing messages. An answer from the
 * server carries its SFTP status as a numeric `code`; anything else is a lost connection.
 */
import { AbortedError, NotFoundError, StorageAuthError, StorageUnavailableError, StowageError, describeError } from '@stowage/driver-contract';
import { AttemptTimeoutError, BodyLengthError, errorDetails, isAbortError, networkErrorCode, type CallContext } from '@stowage/driver-utils';

/** SFTP status codes (draft-ietf-secsh-filexfer-02) the driver acts on. */
export const SFTP_NO_SUCH_FILE = 2;
export const SFTP_PERMISSION_DENIED = 3;

export type ConnectFailureKind = 'authentication' | 'host-key' | 'private-key' | 'timeout' | 'network';

/** Why a connection could not be made, with the words for the operator. */
export class ConnectFailure extends Error {
  override readonly name = 'ConnectFailure';
  constructor(
    readonly kind: ConnectFailureKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The numeric SFTP status of a server's answer, or undefined for a transport failure. */
export function sftpStatus(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

/** True when the server answered (the connection is still good); false when the connection broke or timed out. */
export function isServerAnswer(error: unknown): boolean {
  // A body of the wrong length is the caller's fault; the connection is fine.
  if (error instanceof BodyLengthError || error instanceof RangeError) return true;
  return sftpStatus(error) !== undefined || (error as { code?: unknown } | null)?.code === 'ENOENT';
}

export function isMissingFile(error: unknown): boolean {
  return sftpStatus(error) === SFTP_NO_SUCH_FILE || (error as { code?: unknown } | null)?.code === 'ENOENT';
}

/** Map any failure of an SFTP call to the contract's typed errors, the original kept as `cause`. */
export function toStowageError(error: unknown, context: CallContext): StowageError {
  if (StowageError.isStowageError(error)) return error;
  const details = errorDetails(context, error);
  const where = `sftp backend ${context.backend}: ${context.operation}`;
  if (isAbortError(error)) return new AbortedError(`${where} was cancelled`, details);
  if (error instanceof ConnectFailure) {
    if (error.kind === 'authentication' || error.kind === 'host-key' || error.kind === 'private-key') {
      return new StorageAuthError(`${where} failed: ${error.message}`, details);
    }
    return new StorageUnavailableError(`${where} failed: ${error.message}; check that the server is running and reachable, retry later`, details);
  }
  if (error instanceof AttemptTimeoutError) {
    return new StorageUnavailableError(`${where} failed: the server gave ${error.message}; the connection was dropped`, details);
  }
  if (error instanceof BodyLengthError) return new StowageError(`${where} refused: ${error.message}; nothing was stored`, details);
  if (isMissingFile(error)) return new NotFoundError(`${where} failed: the object does not exist (${describeError(error)})`, details);
  const status = sftpStatus(error);
  if (status === SFTP_PERMISSION_DENIED) {
    return new StorageAuthError(`${where} was refused: permission denied (${describeError(error)}); check the owner and mode of the folder`, details);
  }
  if (status !== undefined) return new StorageUnavailableError(`${where} failed: the server answered SFTP status ${status} (${describeError(error)}); is the disk full?`, details);
  const code = networkErrorCode(error);
  return new StorageUnavailableError(`${where} failed: the connection was lost (${code ?? describeError(error)}); retry later`, details);
}
