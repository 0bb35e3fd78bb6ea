/**
 * S3 failures mapped to the contract's typed errors, by the error's `name`, its HTTP status and its network `code`, never by
 * message: body-less answers (HEAD) only carry `name: 'Unknown'` / `'NotFound'` and the status (TEST-SERVERS.md).
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
import { errorDetails, isAbortError, networkErrorCode, type CallContext } from '@stowage/driver-utils';

/** What a failed call was doing (`operation`: e.g. `PutObject of volumebackups/a/b`); `container` is the bucket. */
export type S3CallContext = CallContext;

const AUTH_NAMES = new Set([
  'SignatureDoesNotMatch',
  'InvalidAccessKeyId',
  'AccessDenied',
  'InvalidToken',
  'ExpiredToken',
  'InvalidClientTokenId',
  'AuthorizationHeaderMalformed',
  'CredentialsProviderError',
]);
const UNAVAILABLE_NAMES = new Set([
  'ServiceUnavailable',
  'SlowDown',
  'InternalError',
  'RequestTimeout',
  'TimeoutError',
  'RequestTimeTooSkewed',
  'ThrottlingException',
]);

/** The fields of an SDK error we map on. */
function facts(error: unknown): { name: string; status: number | undefined; code: string | undefined } {
  if (!(error instanceof Error)) return { name: '', status: undefined, code: undefined };
  const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  return { name: error.name, status, code: networkErrorCode(error) };
}

/** True when the error says the bucket does not exist (with or without a body to name it). */
export function isMissingBucket(error: unknown, context: S3CallContext): boolean {
  const { name, status } = facts(error);
  return name === 'NoSuchBucket' || (context.object === undefined && (name === 'NotFound' || status === 404));
}

/** True when the error says the object does not exist. */
export function isMissingKey(error: unknown): boolean {
  const { name } = facts(error);
  return name === 'NoSuchKey' || name === 'NotFound';
}

/** Map any failure of an S3 call to the contract's typed errors, the original kept as `cause`. */
export function toStowageError(error: unknown, context: S3CallContext): StowageError {
  if (StowageError.isStowageError(error)) return error;
  const details = errorDetails(context, error);
  const where = `s3 backend ${context.backend}: ${context.operation}`;
  const { name, status, code } = facts(error);
  const http = status === undefined ? name : `HTTP ${status} ${name}`;
  if (isAbortError(error)) return new AbortedError(`${where} was cancelled`, details);
  if (AUTH_NAMES.has(name) || status === 401 || status === 403) {
    if (name === 'CredentialsProviderError') {
      return new StorageAuthError(
        `${where} failed: no credentials found (${describeError(error)}); set access_key and secret_key, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY`,
        details,
      );
    }
    return new StorageAuthError(
      `${where} was refused (${http}): authentication failed or access is denied; check access_key, secret_key and the bucket policy`,
      details,
    );
  }
  if (name === 'NoSuchBucket' || (context.object === undefined && status === 404)) {
    return new NotFoundError(`${where} failed: bucket ${context.container ?? '?'} does not exist (${http}); create it or set create_bucket: true`, details);
  }
  if (name === 'NoSuchKey' || name === 'NotFound' || status === 404) {
    return new NotFoundError(`${where} failed: the object does not exist (${http})`, details);
  }
  if (name === 'BadDigest' || name === 'InvalidDigest') {
    return new ChecksumMismatchError(`${where} failed: the service computed a different MD5 than was sent (${http}); retry`, details);
  }
  if (code !== undefined || UNAVAILABLE_NAMES.has(name) || (status !== undefined && status >= 500)) {
    return new StorageUnavailableError(
      `${where} failed: the S3 service is unreachable or unavailable (${code ?? http}); check that it is running and reachable, retry later`,
      details,
    );
  }
  return new StowageError(`${where} failed: ${http}: ${describeError(error)}`, details);
}
