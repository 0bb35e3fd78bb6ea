/**
 * What an operation can refuse with, independent of HTTP. Each error carries the exact message the client sees;
 * `api/faults.ts` alone maps the kind to Cinder's fault body and status code.
 */
export type DomainErrorKind =
  | 'bad-request'
  | 'invalid-state'
  | 'not-found'
  | 'policy-forbidden'
  | 'quota-exceeded'
  | 'service-unavailable'
  | 'operation-failed';

export abstract class DomainError extends Error {
  abstract readonly kind: DomainErrorKind;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The request itself is wrong (bad size, unknown action, unsupported source). */
export class BadRequest extends DomainError {
  readonly kind = 'bad-request';
}

/** The resource is in a status that does not allow the operation (Cinder's InvalidBackup / InvalidVolume). */
export class InvalidState extends DomainError {
  readonly kind = 'invalid-state';
}

/** The resource does not exist or the caller may not see it (another project's rows answer the same). */
export class NotFound extends DomainError {
  readonly kind = 'not-found';
}

/** A policy rule refuses the caller (Cinder's PolicyNotAuthorized). */
export class PolicyForbidden extends DomainError {
  readonly kind = 'policy-forbidden';
}

/** A project quota would be exceeded (Cinder's OverQuota). */
export class QuotaExceeded extends DomainError {
  readonly kind = 'quota-exceeded';
}

/** No backend that could serve the request exists right now (Cinder's ServiceNotFound on import). */
export class ServiceUnavailable extends DomainError {
  readonly kind = 'service-unavailable';
}

/** The operation started and failed on our side (e.g. a volume file could not grow). */
export class OperationFailed extends DomainError {
  readonly kind = 'operation-failed';
}
