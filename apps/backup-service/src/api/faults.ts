/** Cinder's error bodies: `{"<faultName>": {"code": N, "message": "..."}}` (cinder/api/openstack/wsgi.py Fault). */
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

export function faultBody(statusCode: number, message: string): Record<string, { code: number; message: string }> {
  return { [FAULT_NAMES[statusCode] ?? 'computeFault']: { code: statusCode, message } };
}

export const badRequest = (message: string) => new ApiFault(400, message);
export const notFound = (message: string) => new ApiFault(404, message);
