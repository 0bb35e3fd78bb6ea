/**
 * Who is calling. The API asks one `Authenticator` per request: `noauth`, `tokens` (a file of hashed tokens) and
 * `keystone` (token validation against Keystone v3, as keystonemiddleware does).
 */
import type { IncomingHttpHeaders } from 'node:http';

export interface Identity {
  readonly userId: string;
  readonly projectId: string;
  readonly roles: readonly string[];
  readonly isAdmin: boolean;
}

/** The request is not authenticated: answered 401 as keystonemiddleware does. */
export class AuthenticationError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AuthenticationError';
  }
}

/** The identity service could not be asked (down, timing out, refusing the service user): answered 503. */
export class AuthUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AuthUnavailableError';
  }
}

export interface Authenticator {
  readonly strategy: string;
  /** The `uri` of the 401's `WWW-Authenticate: Keystone uri="..."`; the service's own URL when unset. */
  readonly wwwAuthenticateUri?: string;
  /** The caller's identity; throws `AuthenticationError` when the token is missing or not valid. */
  authenticate(headers: IncomingHttpHeaders): Promise<Identity>;
}

export function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}
