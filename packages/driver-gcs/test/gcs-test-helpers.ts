/**
 * What the GCS tests share: the emulator the globalSetup started (scripts/servers/gcs-emulator.mjs), driver options
 * for it, service-account keys made on the spot, and a FaultProxy rule that checks the tokens those keys sign.
 */
import { FaultProxy, createFromPlugin, testServer, type FaultAction, type TestServer } from '@stowage/testkit';
import type { StorageDriver } from '@stowage/core';
import { execFile } from 'node:child_process';
import { generateKeyPairSync, verify, type KeyObject } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import plugin from '../src/index.js';

const run = promisify(execFile);

/** What gcs-emulator.mjs writes to <state>/endpoints.json. */
export interface GcsEndpoints {
  readonly state: string;
  readonly script: string;
  readonly endpoint: string;
  readonly projectId: string;
  readonly port: number;
}

/** The emulator provided as `gcsServer` by scripts/servers/gcs-vitest-setup.ts; `control` runs the Node script. */
export function gcsTestServer(): TestServer<GcsEndpoints> {
  const server = testServer<GcsEndpoints>('gcsServer', 'the GCS emulator');
  return {
    ...server,
    async control(action, name) {
      const { script, state } = server.endpoints();
      await run(process.execPath, [script, action, state, name], { timeout: 180_000 });
    },
  };
}

/** Options for the emulator: no credentials, short retries so that faults show within a test's time. */
export function gcsTestOptions(endpoint: string, bucket: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { api_endpoint: endpoint, anonymous: true, project_id: 'stowage-test', bucket, timeout: 30, retry_attempts: 3, retry_backoff: 0.1, ...overrides };
}

export async function createGcsDriver(options: Record<string, unknown>, backendName = 'gcs-test'): Promise<StorageDriver> {
  return createFromPlugin(plugin, options, { backendName });
}

/** A service-account key file like Google's, for an account that exists only in these tests. */
export interface TestServiceAccount {
  readonly email: string;
  readonly keyFile: string;
  readonly publicKey: KeyObject;
  /** Deletes the key file and its folder. */
  readonly remove: () => Promise<void>;
}

export async function makeServiceAccount(name: string): Promise<TestServiceAccount> {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const email = `${name}@stowage-test.iam.gserviceaccount.com`;
  const dir = await mkdtemp(join(tmpdir(), 'stowage-gcs-key-'));
  const keyFile = join(dir, `${name}.json`);
  const key = {
    type: 'service_account',
    project_id: 'stowage-test',
    private_key_id: `${name}-key`,
    private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }),
    client_email: email,
    client_id: '1',
  };
  await writeFile(keyFile, JSON.stringify(key), { mode: 0o600 });
  return { email, keyFile, publicKey, remove: () => rm(dir, { recursive: true, force: true }) };
}

/**
 * Driver options for `account` through `proxy`. With a universe domain of its own, the library signs each request's
 * token with the key itself (a self-signed JWT) instead of exchanging it at Google's token endpoint, so the proxy can
 * check it here, offline.
 */
export function keyedOptions(proxy: FaultProxy, account: TestServiceAccount, bucket: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return gcsTestOptions(proxy.base, bucket, { anonymous: false, credentials_file: account.keyFile, universe_domain: 'stowage.test', ...overrides });
}

/** GCS's JSON error answer. */
export function gcsError(status: number, message: string, reason: string): FaultAction {
  return {
    respond: (_request, response) => {
      response
        .writeHead(status, { 'Content-Type': 'application/json' })
        .end(JSON.stringify({ error: { code: status, message, errors: [{ message, domain: 'global', reason }] } }));
    },
  };
}

/** True when the request carries a bearer JWT signed by `account`'s key and not expired. */
export function signedBy(request: IncomingMessage, account: TestServiceAccount): boolean {
  const token = /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1];
  const [header, payload, signature] = token?.split('.') ?? [];
  if (header === undefined || payload === undefined || signature === undefined) return false;
  const valid = verify('RSA-SHA256', Buffer.from(`${header}.${payload}`), account.publicKey, Buffer.from(signature, 'base64url'));
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { exp?: number; iss?: string };
  return valid && claims.iss === account.email && (claims.exp ?? 0) * 1000 > Date.now();
}

/** A proxy rule: requests not signed by `account` get GCS's 401; the rest pass to the emulator. */
export function requireSignedBy(account: TestServiceAccount): (request: IncomingMessage) => FaultAction | undefined {
  return (request) => (signedBy(request, account) ? undefined : gcsError(401, 'Invalid Credentials', 'authError'));
}

export async function keysOf(listing: AsyncIterable<string>): Promise<string[]> {
  const keys: string[] = [];
  for await (const key of listing) keys.push(key);
  return keys;
}

export async function drain(body: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of body) parts.push(Buffer.from(part));
  return Buffer.concat(parts);
}

/** Delete every object the tests left in `bucket` (the emulator keeps them across restarts). */
export async function emptyBucket(driver: StorageDriver, bucket: string): Promise<void> {
  const keys = await keysOf(driver.listObjects(bucket, ''));
  for (let at = 0; at < keys.length; at += 16) {
    await Promise.all(keys.slice(at, at + 16).map((key) => driver.deleteObject(bucket, key)));
  }
}
