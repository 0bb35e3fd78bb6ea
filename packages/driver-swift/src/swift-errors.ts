/**
 * Swift failures mapped to core's typed errors. The original failure is kept as `cause`; messages name the
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
  type StowageErrorDetails,
} from '@stowage/core';

/** What a failed call was doing, for messages. */
export interface SwiftCallContext {
  readonly backend: string;
  /** e.g. `PUT of object volumebackups/a/b`, `authentication at http://.../auth/v1.0`. */
  readonly operation: string;
  readonly container?: string | undefined;
  readonly object?: string | undefined;
}

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

/** A request that got no answer in time. */
export class SwiftTimeoutError extends Error {
  override readonly name = 'SwiftTimeoutError';
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CLOSED',
]);

/** The network-level code of a fetch failure (`TypeError: fetch failed` hides it in `cause`), if any. */
export function networkCode(error: unknown): string | undefined {
  for (let current = error, depth = 0; current instanceof Error && depth < 5; depth += 1) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && NETWORK_CODES.has(code)) return code;
    current = current.cause;
  }
  return undefined;
}

/** True for failures worth another attempt: no answer, a dropped connection, a 5xx. */
export function isRetryable(error: unknown): boolean {
  if (error instanceof SwiftHttpError) return error.status >= 500;
  if (error instanceof SwiftTimeoutError) return true;
  if (networkCode(error) !== undefined) return true;
  // undici reports a socket closed mid-response as `TypeError: terminated` with a `SocketError` cause.
  return error instanceof TypeError && (error.message === 'fetch failed' || error.message === 'terminated');
}

/** Map any failure of a Swift call to core's typed errors. */
export function toStowageError(error: unknown, context: SwiftCallContext): StowageError {
  if (StowageError.isStowageError(error)) return error;
  const details = errorDetails(context, error);
  const where = `swift backend ${context.backend}: ${context.operation}`;
  if (isAbort(error)) return new AbortedError(`${where} was cancelled`, details);
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
  const code = networkCode(error);
  if (code !== undefined || isRetryable(error)) {
    return new StorageUnavailableError(
      `${where} failed: cannot reach Swift (${code ?? describeError(error)}); check that the proxy is running and reachable`,
      details,
    );
  }
  return new StowageError(`${where} failed: ${describeError(error)}`, details);
}

/** Error details naming what the call concerned (only the fields that are known). */
export function errorDetails(context: SwiftCallContext, cause?: unknown): StowageErrorDetails {
  const details: StowageErrorDetails = { backend: context.backend };
  if (cause !== undefined) details.cause = cause;
  if (context.container !== undefined) details.container = context.container;
  if (context.object !== undefined) details.object = context.object;
  return details;
}

export function isAbort(error: unknown): boolean {
  return AbortedError.isInstance(error) || (error instanceof Error && error.name === 'AbortError');
}
