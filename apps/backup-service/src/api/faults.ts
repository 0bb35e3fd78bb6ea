/**
 * Cinder's error bodies: `{"<faultName>": {"code": N, "message": "..."}}` (cinder/api/openstack/wsgi.py Fault), and
 * the one mapping from the operations' domain errors to them.
 */
import type { DomainError, DomainErrorKind } from '../domain/errors.js';

const FAULT_NAMES: Record<number, string> = {
  400: 'badRequest',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'itemNotFound',
  405: 'badMethod',
  409: 'conflictingRequest',
  413: 'overLimit',
  415: 'badMediaType',
  501: 'notImplemented',
  503: 'serviceUnavailable',
};

export class ApiFault extends Error {
  readonly statusCode: number;
  constructor(statusCode: number, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ApiFault';
    this.statusCode = statusCode;
  }
}

/** The HTTP status of each domain error, as Cinder answers the matching exception. */
const STATUS_OF_KIND: Record<DomainErrorKind, number> = {
  'bad-request': 400,
  'invalid-state': 400,
  'not-found': 404,
  'policy-forbidden': 403,
  'quota-exceeded': 413,
  'service-unavailable': 503,
  'operation-failed': 500,
};

export function faultOf(error: DomainError): ApiFault {
  return new ApiFault(STATUS_OF_KIND[error.kind], error.message, { cause: error });
}

export function faultBody(statusCode: number, message: string): Record<string, { code: number; message: string; retryAfter?: string }> {
  // Cinder's Fault adds the Retry-After of an over-quota error to the body (OverQuota sets it to 0).
  const body = statusCode === 413 ? { code: statusCode, message, retryAfter: '0' } : { code: statusCode, message };
  return { [FAULT_NAMES[statusCode] ?? 'computeFault']: body };
}

export const badRequest = (message: string) => new ApiFault(400, message);
export const notFound = (message: string) => new ApiFault(404, message);
