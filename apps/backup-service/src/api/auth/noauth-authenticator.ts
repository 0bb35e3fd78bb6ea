import type { IncomingHttpHeaders } from 'node:http';
import { AuthenticationError, headerValue, type Authenticator, type Identity } from './authenticator.js';

/**
 * Cinder's `auth_strategy = noauth` (NoAuthMiddleware): the token is `user:project` (project defaults to the
 * user) and every caller is admin. For development and loopback only.
 */
export class NoAuthAuthenticator implements Authenticator {
  readonly strategy = 'noauth';

  async authenticate(headers: IncomingHttpHeaders): Promise<Identity> {
    const token = headerValue(headers, 'x-auth-token');
    if (token === undefined) throw new AuthenticationError('Authentication required');
    const colon = token.indexOf(':');
    const userId = colon < 0 ? token : token.slice(0, colon);
    const projectId = (colon < 0 ? '' : token.slice(colon + 1)) || userId;
    return { userId: userId || 'admin', projectId: projectId || 'admin', roles: ['admin'], isAdmin: true };
  }
}
