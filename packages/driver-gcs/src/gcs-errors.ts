/**
 * Failures of @google-cloud/storage calls mapped to the contract's typed errors, by HTTP status and network code.
 * The library's `ApiError` carries the status as a numeric `code`; node-fetch's `FetchError` a string `code`
 * (`ECONNREFUSED`) or `type: 'request-timeout'`; google-auth-library's token failures a `response.status`.
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
import { AttemptTimeoutError, errorDetails, isAbortError, isNetworkError, networkErrorCode, type CallContext } from '@stowage/driver-utils';

/** What a failed call was doing and as whom; `container` is the bucket, `object` the key as the engine names it. */
export interface GcsCallContext extends CallContext {
  /** The account the driver authenticates as, for messages (never a secret). */
  readonly account: string;
}

interface ErrorFacts {
  readonly status: number | undefined;
  readonly network: string | undefined;
  /** The library's own error code (`CONTENT_DOWNLOAD_MISMATCH`), or a token endpoint's `error` (`invalid_grant`). */
  readonly reason: string | undefined;
}

function facts(error: unknown): ErrorFacts {
  if (!(error instanceof Error)) return { status: undefined, network: undefined, reason: undefined };
  const { code, response } = error as { code?: unknown; response?: { status?: unknown; data?: { error?: unknown } } };
  const status = typeof code === 'number' ? code : typeof response?.status === 'number' ? response.status : undefined;
  const tokenError = response?.data?.error;
  const reason = typeof code === 'string' ? code : typeof tokenError === 'string' ? tokenError : undefined;
  return { status, network: networkErrorCode(error), reason };
}

/** A timed-out attempt, a request that got no answer in time, or a connection that failed. */
function isTimeoutOrNetwork(error: unknown): boolean {
  if (error instanceof AttemptTimeoutError || isNetworkError(error)) return true;
  return error instanceof Error && (error as { type?: unknown }).type === 'request-timeout';
}

/** Worth another attempt: throttled (429), a server error (5xx, 408), a timeout or a dropped connection. */
export function isRetryable(error: unknown): boolean {
  const { status } = facts(error);
  if (status !== undefined) return status === 408 || status === 429 || status >= 500;
  return isTimeoutOrNetwork(error);
}

/** True when a call on a bucket (no object named) says the bucket does not exist. */
export function isMissing(error: unknown): boolean {
  return facts(error).status === 404;
}

const AUTH_REASONS = new Set(['invalid_grant', 'invalid_client', 'unauthorized_client', 'invalid_scope']);

/** Map any failure of a GCS call to the contract's typed errors, the original kept as `cause`. */
export function toStowageError(error: unknown, context: GcsCallContext): StowageError {
  if (StowageError.isStowageError(error)) return error;
  const details = errorDetails(context, error);
  const where = `gcs backend ${context.backend}: ${context.operation}`;
  const { status, network, reason } = facts(error);
  const cause = describeError(error);
  if (isAbortError(error)) return new AbortedError(`${where} was cancelled`, details);
  if (status === 401 || (reason !== undefined && AUTH_REASONS.has(reason)) || /default credentials/i.test(cause)) {
    return new StorageAuthError(
      `${where} was refused: authentication as ${context.account} failed (${status === undefined ? cause : `HTTP ${status}: ${cause}`}); ` +
        'check credentials_file or the application default credentials',
      details,
    );
  }
  if (status === 403) {
    return new StorageAuthError(
      `${where} was refused (HTTP 403): ${context.account} lacks a permission on bucket ${context.container ?? '?'} (${cause}); ` +
        'grant it roles/storage.objectUser (storage.objects.list, get, create, delete) on the bucket',
      details,
    );
  }
  if (status === 404) {
    if (context.object === undefined) {
      return new NotFoundError(`${where} failed: bucket ${context.container ?? '?'} does not exist (HTTP 404: ${cause})`, details);
    }
    return new NotFoundError(`${where} failed: the object does not exist (HTTP 404: ${cause})`, details);
  }
  // GCS answers 400 "Provided MD5 hash ... doesn't match calculated MD5 hash" (or CRC32C) to an upload that arrived damaged.
  if (reason === 'CONTENT_DOWNLOAD_MISMATCH' || reason === 'FILE_NO_UPLOAD' || (status === 400 && /hash/i.test(cause))) {
    return new ChecksumMismatchError(`${where} failed: the bytes do not match the service's checksum (${cause}); retry`, details);
  }
  if (status === 408 || status === 429 || (status !== undefined && status >= 500) || isTimeoutOrNetwork(error)) {
    const why = network ?? (status === undefined ? cause : `HTTP ${status}: ${cause}`);
    return new StorageUnavailableError(
      `${where} failed: the storage service is unreachable or unavailable (${why}); check that it is running and reachable, retry later`,
      details,
    );
  }
  return new StowageError(`${where} failed: ${status === undefined ? '' : `HTTP ${status}: `}${cause}`, details);
}
