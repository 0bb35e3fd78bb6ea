import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { AuthUnavailableError, AuthenticationError, headerValue, type Authenticator, type Identity } from './authenticator.js';

export interface KeystoneAuthOptions {
  /** Keystone's identity URL, with or without the trailing `/v3`. */
  readonly authUrl: string;
  /** Told to clients in the 401's `WWW-Authenticate` (Cinder's `www_authenticate_uri`); defaults to authUrl. */
  readonly wwwAuthenticateUri?: string;
  readonly username: string;
  readonly password: string;
  readonly projectName: string;
  readonly userDomainName: string;
  readonly projectDomainName: string;
  /** Longest time a validation is reused (keystonemiddleware's `token_cache_time`, 300 s). */
  readonly cacheSeconds?: number;
  /** Most validations kept; the least recently used goes first. */
  readonly cacheSize?: number;
  /** Per request to Keystone. */
  readonly timeoutSeconds?: number;
}

interface CachedIdentity {
  readonly identity: Identity;
  readonly until: number;
}

interface ServiceToken {
  readonly token: string;
  readonly expiresAt: number;
}

/** Keystone's token body, as much of it as we read (`GET /v3/auth/tokens`). */
interface TokenBody {
  token?: {
    expires_at?: string;
    user?: { id?: string };
    project?: { id?: string };
    roles?: Array<{ name?: string }>;
  };
}

// A service token this close to its expiry is renewed first: validations in flight must not race its expiry.
const SERVICE_TOKEN_MARGIN_MS = 120_000;
// Network errors where the request may not have reached Keystone: uwsgi closes idle keep-alive connections silently.
const RETRYABLE_CODES = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED']);

/**
 * `auth_strategy: keystone`: validates `X-Auth-Token` against Keystone v3 like keystonemiddleware's auth_token:
 * a service token (password auth of the configured service user) asks `GET /v3/auth/tokens` with
 * `X-Subject-Token`; the answer (user, project, roles) is cached by the token's sha256 until the token expires,
 * at most `cacheSeconds`. Keystone unreachable: `AuthUnavailableError` (503), but cached tokens keep working.
 */
export class KeystoneAuthenticator implements Authenticator {
  readonly strategy = 'keystone';
  readonly wwwAuthenticateUri: string;
  readonly #v3: string;
  readonly #options: KeystoneAuthOptions;
  readonly #cacheMs: number;
  readonly #cacheSize: number;
  readonly #timeoutMs: number;
  // Map iteration order is insertion order: re-inserting on a hit makes the first key the least recently used.
  readonly #cache = new Map<string, CachedIdentity>();
  readonly #inFlight = new Map<string, Promise<Identity>>();
  #serviceToken: ServiceToken | undefined;
  #serviceTokenPending: Promise<ServiceToken> | undefined;

  constructor(options: KeystoneAuthOptions) {
    const base = options.authUrl.replace(/\/+$/, '');
    this.#v3 = /\/v3$/.test(base) ? base : `${base}/v3`;
    this.wwwAuthenticateUri = options.wwwAuthenticateUri ?? base;
    this.#options = options;
    this.#cacheMs = (options.cacheSeconds ?? 300) * 1000;
    this.#cacheSize = options.cacheSize ?? 1000;
    this.#timeoutMs = (options.timeoutSeconds ?? 10) * 1000;
  }

  async authenticate(headers: IncomingHttpHeaders): Promise<Identity> {
    const token = headerValue(headers, 'x-auth-token');
    if (token === undefined || token === '') throw new AuthenticationError('Authentication required');
    const key = createHash('sha256').update(token).digest('hex');
    const cached = this.#cache.get(key);
    if (cached) {
      this.#cache.delete(key);
      if (cached.until > Date.now()) {
        this.#cache.set(key, cached);
        return cached.identity;
      }
    }
    let pending = this.#inFlight.get(key);
    if (!pending) {
      // Concurrent requests with the same new token share one validation.
      pending = this.#validate(token, key).finally(() => this.#inFlight.delete(key));
      this.#inFlight.set(key, pending);
    }
    return pending;
  }

  async #validate(token: string, key: string): Promise<Identity> {
    let response = await this.#askKeystone(token, await this.#serviceTokenValue(false));
    if (response.status === 401) {
      // Our service token was revoked or expired early: get a new one, once.
      await response.body?.cancel();
      response = await this.#askKeystone(token, await this.#serviceTokenValue(true));
    }
    if (response.status === 404) {
      await response.body?.cancel();
      throw new AuthenticationError('Keystone does not know the token, or it expired');
    }
    if (response.status !== 200) {
      await response.body?.cancel();
      throw new AuthUnavailableError(`Keystone answered ${response.status} to the token validation`);
    }
    const body = (await response.json().catch((cause: unknown) => {
      throw new AuthUnavailableError('Keystone sent a token validation that is not JSON', { cause });
    })) as TokenBody;
    const expiresAt = Date.parse(body.token?.expires_at ?? '');
    const userId = body.token?.user?.id;
    const projectId = body.token?.project?.id;
    // Cinder needs a project: unscoped, domain- and system-scoped tokens cannot use this API.
    if (!userId || !projectId || Number.isNaN(expiresAt)) throw new AuthenticationError('The token is not scoped to a project');
    if (expiresAt <= Date.now()) throw new AuthenticationError('The token expired');
    const roles = (body.token?.roles ?? []).map((role) => role.name).filter((name): name is string => typeof name === 'string');
    const identity: Identity = { userId, projectId, roles, isAdmin: roles.includes('admin') };
    this.#remember(key, { identity, until: Math.min(expiresAt, Date.now() + this.#cacheMs) });
    return identity;
  }

  #remember(key: string, entry: CachedIdentity): void {
    this.#cache.set(key, entry);
    while (this.#cache.size > this.#cacheSize) {
      const oldest = this.#cache.keys().next().value as string;
      this.#cache.delete(oldest);
    }
  }

  #askKeystone(token: string, serviceToken: string): Promise<Response> {
    return this.#request(`${this.#v3}/auth/tokens?nocatalog`, {
      method: 'GET',
      headers: { 'X-Auth-Token': serviceToken, 'X-Subject-Token': token, Accept: 'application/json' },
    });
  }

  async #serviceTokenValue(renew: boolean): Promise<string> {
    const current = this.#serviceToken;
    if (!renew && current && current.expiresAt - SERVICE_TOKEN_MARGIN_MS > Date.now()) return current.token;
    this.#serviceTokenPending ??= this.#issueServiceToken().finally(() => (this.#serviceTokenPending = undefined));
    return (await this.#serviceTokenPending).token;
  }

  async #issueServiceToken(): Promise<ServiceToken> {
    const o = this.#options;
    const response = await this.#request(`${this.#v3}/auth/tokens?nocatalog`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify({
        auth: {
          identity: { methods: ['password'], password: { user: { name: o.username, domain: { name: o.userDomainName }, password: o.password } } },
          scope: { project: { name: o.projectName, domain: { name: o.projectDomainName } } },
        },
      }),
    });
    const token = response.headers.get('x-subject-token');
    if (response.status !== 201 || !token) {
      await response.body?.cancel();
      throw new AuthUnavailableError(`Keystone refused the service user ${o.username} (HTTP ${response.status}); check keystone_authtoken`);
    }
    const body = (await response.json().catch(() => ({}))) as TokenBody;
    const expires = Date.parse(body.token?.expires_at ?? '');
    // A token without a readable expiry is renewed after the cache time.
    const issued = { token, expiresAt: Number.isNaN(expires) ? Date.now() + this.#cacheMs + SERVICE_TOKEN_MARGIN_MS : expires };
    this.#serviceToken = issued;
    return issued;
  }

  async #request(url: string, init: RequestInit): Promise<Response> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await fetch(url, { ...init, signal: AbortSignal.timeout(this.#timeoutMs) });
      } catch (error) {
        const code = networkCode(error);
        if (attempt === 1 && code !== undefined && RETRYABLE_CODES.has(code)) continue;
        const what = code ?? (error as Error).name;
        throw new AuthUnavailableError(`Keystone at ${this.#v3} cannot be reached (${what})`, { cause: error });
      }
    }
  }
}

/** The errno-like code of a failed fetch (undici wraps it in `cause`), or the abort's name on timeout. */
function networkCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current instanceof Error; depth += 1) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    if (current.name === 'TimeoutError' || current.name === 'AbortError') return current.name;
    current = current.cause;
  }
  return undefined;
}
