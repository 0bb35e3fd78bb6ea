/**
 * Swift failures mapped to the contract's typed errors. The original failure is kept as `cause`; messages name the
 * backend, the container and object, and say what to do.
 */
import {
  AbortedError,
  ChecksumMismatchError,
  NotFoundError,
  StorageAuthError,
  StorageUnavailableError,
  StowageError,
  describeError,
} from '@stowage/driver-contract';
import { AttemptTimeoutError, errorDetails, isAbortError, networkErrorCode, type CallContext } from '@stowage/driver-utils';

/** What a failed call was doing (`operation`: e.g. `PUT of object volumebackups/a/b`), for messages. */
export type SwiftCallContext = CallContext;

/** An HTTP answer Swift gave that the caller did not expect; kept as the `cause` of the typed error. */
export class SwiftHttpError extends Error {
  override readonly name = 'SwiftHttpError';
  constructor(
    readonly status: number,
    readonly statusText: string,
    readonly method: string,
    readonly url: string,
    readonly body: string,
    readonly transactionId: string | undefined,
  ) {
    super(`${method} ${url}: HTTP ${status} ${statusText}${transactionId ? ` (${transactionId})` : ''}${body ? `: ${body.slice(0, 200)}` : ''}`);
  }
}

/** A request that got no answer in time (or a download that stalled). */
export class SwiftTimeoutError extends AttemptTimeoutError {
  override readonly name = 'SwiftTimeoutError';
}

/** True for failures worth another attempt: no answer, a dropped connection, a 5xx. */
export function isRetryable(error: unknown): boolean {
  if (error instanceof SwiftHttpError) return error.status >= 500;
  if (error instanceof SwiftTimeoutError) return true;
  if (networkErrorCode(error) !== undefined) return true;
  // undici reports a socket closed mid-response as `TypeError: terminated` with a `SocketError` cause.
  return error instanceof TypeError && (error.message === 'fetch failed' || error.message === 'terminated');
}

/** Map any failure of a Swift call to the contract's typed errors. */
export function toStowageError(error: unknown, context: SwiftCallContext): StowageError {
  if (StowageError.isStowageError(error)) return error;
  const details = errorDetails(context, error);
  const where = `swift backend ${context.backend}: ${context.operation}`;
  if (isAbortError(error)) return new AbortedError(`${where} was cancelled`, details);
  if (error instanceof SwiftHttpError) {
    const http = `HTTP ${error.status}${error.transactionId ? `, ${error.transactionId}` : ''}`;
    switch (error.status) {
      case 401:
      case 403:
        return new StorageAuthError(
          `${where} was refused (${http}): the credentials are wrong, expired or lack access; check user, key and the account's ACLs`,
          details,
        );
      case 404:
        return new NotFoundError(`${where} failed: ${context.object === undefined ? 'the container' : 'the object'} does not exist (${http})`, details);
      case 422:
        return new ChecksumMismatchError(
          `${where} failed: Swift computed a different MD5 than was sent (${http}); the data was damaged in transit, retry`,
          details,
        );
      case 507:
        return new StorageUnavailableError(`${where} failed: Swift has no space left on its disks (${http}); free space or add capacity`, details);
      default:
        if (error.status >= 500) {
          return new StorageUnavailableError(
            `${where} failed: Swift answered ${http} ${error.statusText}; the cluster is overloaded or partly down, retry later`,
            details,
          );
        }
        return new StowageError(`${where} failed: unexpected ${http} ${error.statusText}${error.body ? `: ${error.body.slice(0, 200)}` : ''}`, details);
    }
  }
  if (error instanceof SwiftTimeoutError) {
    return new StorageUnavailableError(`${where} got no answer in time (${error.message}); check that the Swift proxy is up and not overloaded`, details);
  }
  const code = networkErrorCode(error);
  if (code !== undefined || isRetryable(error)) {
    return new StorageUnavailableError(
      `${where} failed: cannot reach Swift (${code ?? describeError(error)}); check that the proxy is running and reachable`,
      details,
    );
  }
  return new StowageError(`${where} failed: ${describeError(error)}`, details);
}
