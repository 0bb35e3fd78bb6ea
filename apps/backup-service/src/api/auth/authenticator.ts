/**
 * Who is calling. The API asks one `Authenticator` per request; `noauth` and `tokens` exist now, Keystone token
 * validation (`GET /v3/auth/tokens`) is meant to be a third implementation of the same interface.
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

export interface Authenticator {
  readonly strategy: string;
  /** The caller's identity; throws `AuthenticationError` when the token is missing or not valid. */
  authenticate(headers: IncomingHttpHeaders): Promise<Identity>;
}

export function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}
