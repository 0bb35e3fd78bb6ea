/**
 * Getting a token and a storage URL: tempauth/swauth v1 (`X-Auth-User` / `X-Auth-Key`) or Keystone v3 (password
 * or application credential, storage URL from the catalog).
 */
import { ConfigError } from '@stowage/driver-contract';
import { readFile } from 'node:fs/promises';
import type { SwiftOptions } from './swift-config.js';
import { SwiftHttpError } from './swift-errors.js';

export interface SwiftSession {
  readonly token: string;
  readonly storageUrl: string;
  /** Epoch milliseconds after which the token is no longer valid, when the server says. */
  readonly expiresAt: number | undefined;
}

/** Does one HTTP request with the driver's timeout and abort handling. */
export type Send = (url: string, init: RequestInit) => Promise<Response>;

export async function authenticate(options: SwiftOptions, send: Send): Promise<SwiftSession> {
  return options.auth_version === '1' ? authenticateV1(options, send) : authenticateV3(options, send);
}

/** The URL authentication goes to, for messages. */
export function authEndpoint(options: SwiftOptions): string {
  return options.auth_version === '1' ? options.auth_url : keystoneTokensUrl(options.auth_url);
}

/** Who authenticates, for messages (never the secret). */
export function authIdentity(options: SwiftOptions): string {
  if (options.auth_version === '3' && options.application_credential_id !== undefined) {
    return `application credential ${options.application_credential_id}`;
  }
  return `user ${options.user ?? '(none)'}`;
}

async function authenticateV1(options: SwiftOptions, send: Send): Promise<SwiftSession> {
  const response = await send(options.auth_url, {
    method: 'GET',
    headers: { 'X-Auth-User': options.user ?? '', 'X-Auth-Key': await resolveKey(options) },
  });
  await expectOk(response, 'GET', options.auth_url);
  const token = response.headers.get('x-auth-token') ?? response.headers.get('x-storage-token');
  const storageUrl = options.storage_url ?? response.headers.get('x-storage-url');
  if (!token || !storageUrl) {
    throw new Error(`auth at ${options.auth_url} answered ${response.status} without X-Auth-Token and X-Storage-Url`);
  }
  const expiresIn = Number(response.headers.get('x-auth-token-expires'));
  return { token, storageUrl: trimSlash(storageUrl), expiresAt: Number.isFinite(expiresIn) && expiresIn > 0 ? Date.now() + expiresIn * 1000 : undefined };
}

interface KeystoneTokenBody {
  token?: {
    expires_at?: string;
    catalog?: Array<{
      type?: string;
      endpoints?: Array<{ interface?: string; region?: string; region_id?: string; url?: string }>;
    }>;
  };
}

async function authenticateV3(options: SwiftOptions, send: Send): Promise<SwiftSession> {
  const url = keystoneTokensUrl(options.auth_url);
  let identity: unknown;
  let scope: unknown;
  if (options.application_credential_id !== undefined) {
    // An application credential carries its own project scope.
    const secret =
      options.application_credential_secret ?? envSecret(options.application_credential_secret_env, 'application_credential_secret_env');
    identity = { methods: ['application_credential'], application_credential: { id: options.application_credential_id, secret } };
  } else {
    identity = {
      methods: ['password'],
      password: { user: { name: options.user, domain: { name: options.user_domain_name }, password: await resolveKey(options) } },
    };
    scope = {
      project:
        options.project_id !== undefined
          ? { id: options.project_id }
          : { name: options.project_name, domain: { name: options.project_domain_name } },
    };
  }
  const response = await send(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ auth: scope === undefined ? { identity } : { identity, scope } }),
  });
  await expectOk(response, 'POST', url);
  const token = response.headers.get('x-subject-token');
  const body = (await response.json()) as KeystoneTokenBody;
  if (!token) throw new Error(`Keystone at ${url} answered ${response.status} without X-Subject-Token`);
  const expiresAt = body.token?.expires_at ? Date.parse(body.token.expires_at) : undefined;
  let storageUrl = options.storage_url;
  if (storageUrl === undefined) {
    const endpoint = body.token?.catalog
      ?.filter((service) => service.type === 'object-store')
      .flatMap((service) => service.endpoints ?? [])
      .find(
        (candidate) =>
          candidate.interface === options.catalog_interface &&
          (options.region_name === undefined || candidate.region_id === options.region_name || candidate.region === options.region_name),
      );
    if (endpoint?.url === undefined) {
      throw new Error(
        `the Keystone catalog has no object-store endpoint with interface ${options.catalog_interface}` +
          `${options.region_name ? ` in region ${options.region_name}` : ''}; set storage_url or fix catalog_interface/region_name`,
      );
    }
    storageUrl = endpoint.url;
  }
  return { token, storageUrl: trimSlash(storageUrl), expiresAt: Number.isFinite(expiresAt) ? expiresAt : undefined };
}

function keystoneTokensUrl(authUrl: string): string {
  const base = trimSlash(authUrl);
  return `${/\/v3$/.test(base) ? base : `${base}/v3`}/auth/tokens`;
}

async function resolveKey(options: SwiftOptions): Promise<string> {
  if (options.key !== undefined) return options.key;
  if (options.key_env !== undefined) return envSecret(options.key_env, 'key_env');
  if (options.key_file !== undefined) {
    const text = await readFile(options.key_file, 'utf8').catch((error: unknown) => {
      throw new ConfigError(`cannot read the Swift key from key_file ${options.key_file}: ${String(error)}`, [], { cause: error });
    });
    return text.replace(/\r?\n$/, '');
  }
  throw new ConfigError('no Swift key configured: set key, key_env or key_file');
}

function envSecret(name: string | undefined, option: string): string {
  const value = name === undefined ? undefined : process.env[name];
  if (!value) throw new ConfigError(`${option} names the environment variable ${name ?? '(unset)'}, which is not set or empty`);
  return value;
}

async function expectOk(response: Response, method: string, url: string): Promise<void> {
  if (response.ok) return;
  const body = await response.text().catch(() => '');
  throw new SwiftHttpError(response.status, response.statusText, method, url, body, response.headers.get('x-trans-id') ?? undefined);
}

function trimSlash(url: string): string {
  return url.replace(/\/+$/, '');
}
