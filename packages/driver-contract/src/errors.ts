/**
 * Typed errors with stable codes.
 *
 * Identity is checked with `X.isInstance(err)` rather than `instanceof`: a deployment can hold two copies of this
 * package (the service's and a third-party driver's), and `instanceof` fails across copies. The marker is a global
 * symbol (the same one `@stowage/core` used before the contract moved here), so every copy recognises every other
 * copy's errors.
 */
const STOWAGE_ERROR = Symbol.for('stowage.error');

export type StowageErrorCode =
  | 'STOWAGE_ERROR'
  | 'DRIVER_SETUP'
  | 'STORAGE_UNAVAILABLE'
  | 'STORAGE_AUTH'
  | 'NOT_FOUND'
  | 'CHECKSUM_MISMATCH'
  | 'CONFIG'
  | 'INVALID_BACKUP'
  | 'CONTRACT'
  | 'ABORTED'
  | 'AUTHENTICATION_FAILED'
  | 'ENCRYPTION_KEY';

export interface StowageErrorDetails {
  /** The error that caused this one, kept for logs and debugging. */
  cause?: unknown;
  /** Backend (configured name) the failure happened on. */
  backend?: string | undefined;
  /** Container and object key the failure concerns. */
  container?: string | undefined;
  object?: string | undefined;
}

export class StowageError extends Error {
  static readonly code: StowageErrorCode = 'STOWAGE_ERROR';
  readonly [STOWAGE_ERROR] = true;
  readonly code: StowageErrorCode;
  readonly backend: string | undefined;
  readonly container: string | undefined;
  readonly object: string | undefined;

  constructor(message: string, details: StowageErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = (new.target as typeof StowageError).code;
    this.name = new.target.name;
    this.backend = details.backend;
    this.container = details.container;
    this.object = details.object;
  }

  /** True for any Stowage error, from any copy of this package. */
  static isStowageError(error: unknown): error is StowageError {
    return typeof error === 'object' && error !== null && (error as Record<symbol, unknown>)[STOWAGE_ERROR] === true;
  }

  /** True when `error` is this class's kind (matched by code, so it works across package copies). */
  static isInstance<T extends abstract new (...args: never[]) => StowageError>(
    this: T & { readonly code: StowageErrorCode },
    error: unknown,
  ): error is InstanceType<T> {
    if (!StowageError.isStowageError(error)) return false;
    return this.code === 'STOWAGE_ERROR' || error.code === this.code;
  }
}

/** `doSetup()` failed: wrong configuration, unreachable or unusable storage. The backend stays down. */
export class DriverSetupError extends StowageError {
  static override readonly code = 'DRIVER_SETUP';
}

/** The storage cannot be reached right now (connection refused, 503, 507, timeout). Retrying later may work. */
export class StorageUnavailableError extends StowageError {
  static override readonly code = 'STORAGE_UNAVAILABLE';
}

/** The storage refused our credentials. */
export class StorageAuthError extends StowageError {
  static override readonly code = 'STORAGE_AUTH';
}

/** An object (or container) does not exist. */
export class NotFoundError extends StowageError {
  static override readonly code = 'NOT_FOUND';
}

/** Stored data does not match its recorded sha256: the object is corrupt or was replaced. */
export class ChecksumMismatchError extends StowageError {
  static override readonly code = 'CHECKSUM_MISMATCH';
}

/** Configuration is invalid; the message names every bad field and how to fix it. */
export class ConfigError extends StowageError {
  static override readonly code = 'CONFIG';
  readonly issues: readonly ConfigIssue[];
  constructor(message: string, issues: readonly ConfigIssue[] = [], details: StowageErrorDetails = {}) {
    super(message, details);
    this.issues = issues;
  }
}

export interface ConfigIssue {
  /** Dotted path of the field, e.g. `backends[0].options.path`. */
  readonly path: string;
  readonly message: string;
}

/** A backup's stored data cannot be used: missing metadata, unknown format version, broken chain. */
export class InvalidBackupError extends StowageError {
  static override readonly code = 'INVALID_BACKUP';
}

/** A plugin does not satisfy the driver contract (wrong version or shape). */
export class ContractError extends StowageError {
  static override readonly code = 'CONTRACT';
}

/** The operation was cancelled through its AbortSignal. */
export class AbortedError extends StowageError {
  static override readonly code = 'ABORTED';
}

/**
 * An encrypted object failed its authentication check (AES-256-GCM tag): it was altered, or it belongs to another
 * backup, another project or another position. Never retried, never decrypted partially.
 */
export class AuthenticationFailedError extends StowageError {
  static override readonly code = 'AUTHENTICATION_FAILED';
}

/** The key an encrypted backup needs is missing or is not the one it was written with; `keyId` names the key needed. */
export class EncryptionKeyError extends StowageError {
  static override readonly code = 'ENCRYPTION_KEY';
  readonly keyId: string | undefined;
  constructor(message: string, keyId: string | undefined, details: StowageErrorDetails = {}) {
    super(message, details);
    this.keyId = keyId;
  }
}

/** Throws `AbortedError` (carrying the signal's reason) when `signal` is aborted. */
export function throwIfAborted(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw new AbortedError(`${what} was cancelled`, { cause: signal.reason });
}

/** A short, single-line description of any thrown value, for messages and fail_reason fields. */
export function describeError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === 'string' && !StowageError.isStowageError(error) ? `${error.message} (${code})` : error.message;
  }
  return String(error);
}
