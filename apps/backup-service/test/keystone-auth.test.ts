/**
 * `auth_strategy: keystone` against a scripted Keystone stand-in on 127.0.0.1 (no real Keystone needed):
 * 401 + WWW-Authenticate for missing, garbage and expired tokens; 503 (not 500) for new tokens while Keystone
 * is down, while cached tokens keep working until they expire; the service token renewed on 401; one retry
 * after a reset connection; admin-only actions 403 for a member; projects isolated; the admin acting by id.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthUnavailableError, AuthenticationError } from '../src/api/auth/authenticator.js';
import { KeystoneAuthenticator } from '../src/api/auth/keystone-authenticator.js';
import { resolveConfig } from '../src/config/load-config.js';
import { startService, type RunningService } from '../src/service.js';
import { freePort, tempDir, waitUntil } from './helpers/service-process.js';

interface FakeToken {
  readonly userId: string;
  readonly projectId: string;
  readonly roles: readonly string[];
  readonly expiresAt: number;
}

/** Just enough Keystone v3: password auth of the service user, and token validation by a valid service token. */
class KeystoneStandIn {
  readonly tokens = new Map<string, FakeToken>();
  readonly serviceTokens = new Set<string>();
  issued = 0;
  validations = 0;
  resetNext = 0;
  port = 0;
  #server: Server | undefined;
  readonly #sockets = new Set<Socket>();

  get url(): string {
    return `http://127.0.0.1:${this.port}/v3`;
  }

  async start(): Promise<void> {
    const server = createServer((request, response) => void this.#handle(request, response));
    server.on('connection', (socket) => {
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.port = (server.address() as AddressInfo).port;
    this.#server = server;
  }

  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (!server) return;
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    let text = '';
    for await (const chunk of request) text += String(chunk);
    const path = (request.url ?? '').split('?')[0];
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      response.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
    };
    if (path !== '/v3/auth/tokens') return send(404, { error: { code: 404 } });
    if (request.method === 'POST') {
      const password = (JSON.parse(text) as { auth: { identity: { password: { user: { name: string; password: string } } } } }).auth.identity.password.user;
      if (password.name !== 'stowage' || password.password !== 'service-pw') return send(401, { error: { code: 401 } });
      this.issued += 1;
      const token = `service-token-${this.issued}`;
      this.serviceTokens.add(token);
      return send(201, { token: { expires_at: new Date(Date.now() + 3_600_000).toISOString() } }, { 'x-subject-token': token });
    }
    this.validations += 1;
    if (this.resetNext > 0) {
      this.resetNext -= 1;
      request.socket.destroy();
      return;
    }
    if (!this.serviceTokens.has(String(request.headers['x-auth-token']))) return send(401, { error: { code: 401 } });
    const subject = this.tokens.get(String(request.headers['x-subject-token']));
    // Keystone answers 404 for unknown and for expired tokens alike.
    if (!subject || subject.expiresAt <= Date.now()) return send(404, { error: { code: 404, message: 'Could not find token' } });
    send(200, {
      token: {
        expires_at: new Date(subject.expiresAt).toISOString(),
        user: { id: subject.userId, name: subject.userId, domain: { id: 'default' } },
        project: { id: subject.projectId, name: subject.projectId, domain: { id: 'default' } },
        roles: subject.roles.map((name) => ({ id: `role-${name}`, name })),
        methods: ['password'],
      },
    });
  }
}

const HOUR = 3_600_000;
const keystone = new KeystoneStandIn();
let service: RunningService;
let dir: { path: string; remove: () => Promise<void> };

function addToken(token: string, projectId: string, roles: readonly string[], lifetimeMs = HOUR): void {
  keystone.tokens.set(token, { userId: `user-${projectId}`, projectId, roles, expiresAt: Date.now() + lifetimeMs });
}

function call(method: string, url: string, token: string | undefined, body?: unknown, version?: string) {
  const headers: Record<string, string> = token === undefined ? {} : { 'x-auth-token': token };
  if (version !== undefined) headers['openstack-api-version'] = `volume ${version}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  return service.app.inject({ method: method as 'GET', url, headers, ...(body === undefined ? {} : { payload: JSON.stringify(body) }) });
}

beforeAll(async () => {
  await keystone.start();
  addToken('tok-admin', 'project-admin', ['admin', 'member', 'reader']);
  addToken('tok-a', 'project-a', ['member', 'reader']);
  addToken('tok-b', 'project-b', ['member', 'reader']);
  dir = await tempDir('keystone');
  process.env['STOWAGE_TEST_KEYSTONE_PW'] = 'service-pw';
  const config = resolveConfig(
    {
      host: 'keystone',
      listen: `127.0.0.1:${await freePort()}`,
      state_path: dir.path,
      auth_strategy: 'keystone',
      keystone_authtoken: {
        auth_url: keystone.url,
        www_authenticate_uri: 'http://keystone.example:5000',
        username: 'stowage',
        password_env: 'STOWAGE_TEST_KEYSTONE_PW',
        project_name: 'service',
        timeout: 2,
      },
      backends: [{ name: 'b', driver: 'stowage-driver-example', options: { root: join(dir.path, 'b') } }],
    },
    { baseDir: dir.path, source: 'test' },
  );
  service = await startService(config, pino({ level: 'silent' }));
  await service.initialized;
});

afterAll(async () => {
  await service?.stop();
  await keystone.stop();
  await dir?.remove();
});

describe('keystone: 401', () => {
  it.each([
    ['no token', undefined],
    ['a garbage token', 'garbage'],
  ])('%s: 401 with WWW-Authenticate naming www_authenticate_uri', async (_what, token) => {
    const response = await call('GET', '/v3/project-a/backups', token);
    expect(response.statusCode).toBe(401);
    expect(response.headers['www-authenticate']).toBe('Keystone uri="http://keystone.example:5000"');
    expect(response.json()).toEqual({ error: { code: 401, title: 'Unauthorized', message: 'The request you have made requires authentication.' } });
  });

  it('an expired token: 401; a cached token stops working when it expires', async () => {
    keystone.tokens.set('tok-expired', { userId: 'u', projectId: 'project-a', roles: ['member'], expiresAt: Date.now() - 1000 });
    expect((await call('GET', '/v3/project-a/backups', 'tok-expired')).statusCode).toBe(401);

    addToken('tok-short', 'project-a', ['member'], 1500);
    expect((await call('GET', '/v3/project-a/backups', 'tok-short')).statusCode).toBe(200);
    const before = keystone.validations;
    expect((await call('GET', '/v3/project-a/backups', 'tok-short')).statusCode).toBe(200);
    expect(keystone.validations, 'served from the cache').toBe(before);
    await new Promise((resolve) => setTimeout(resolve, 1600));
    const late = await call('GET', '/v3/project-a/backups', 'tok-short');
    expect(late.statusCode).toBe(401);
    expect(late.headers['www-authenticate']).toMatch(/^Keystone uri=/);
  });
});

describe('keystone: unreachable', () => {
  it('503 for uncached tokens, cached tokens still served, and back to normal when Keystone returns', async () => {
    expect((await call('GET', '/v3/project-a/backups', 'tok-a')).statusCode).toBe(200);
    await keystone.stop();
    try {
      expect((await call('GET', '/v3/project-a/backups', 'tok-a')).statusCode, 'cached').toBe(200);
      addToken('tok-new', 'project-a', ['member']);
      const down = await call('GET', '/v3/project-a/backups', 'tok-new');
      expect(down.statusCode).toBe(503);
      expect(down.json()).toEqual({ serviceUnavailable: { code: 503, message: expect.stringContaining('identity service is unavailable') } });
    } finally {
      await keystone.start();
    }
    expect((await call('GET', '/v3/project-a/backups', 'tok-new')).statusCode).toBe(200);
  });

  it('a service token Keystone no longer accepts is renewed once; a reset connection is retried once', async () => {
    keystone.serviceTokens.clear();
    const issued = keystone.issued;
    addToken('tok-renew', 'project-a', ['member']);
    expect((await call('GET', '/v3/project-a/backups', 'tok-renew')).statusCode).toBe(200);
    expect(keystone.issued).toBe(issued + 1);

    keystone.resetNext = 1;
    addToken('tok-reset', 'project-a', ['member']);
    expect((await call('GET', '/v3/project-a/backups', 'tok-reset')).statusCode).toBe(200);
    expect(keystone.resetNext).toBe(0);
  });

  it('the authenticator itself: typed errors with causes; a wrong service password is 503, not 401', async () => {
    const wrong = new KeystoneAuthenticator({
      authUrl: keystone.url.replace(/\/v3$/, ''),
      username: 'stowage',
      password: 'nope',
      projectName: 'service',
      userDomainName: 'Default',
      projectDomainName: 'Default',
    });
    await expect(wrong.authenticate({ 'x-auth-token': 'tok-a' })).rejects.toBeInstanceOf(AuthUnavailableError);
    expect(wrong.wwwAuthenticateUri).toBe(`http://127.0.0.1:${keystone.port}`);
    const dead = new KeystoneAuthenticator({
      authUrl: `http://127.0.0.1:${await freePort()}/v3`,
      username: 'stowage',
      password: 'service-pw',
      projectName: 'service',
      userDomainName: 'Default',
      projectDomainName: 'Default',
      timeoutSeconds: 1,
    });
    const error = await dead.authenticate({ 'x-auth-token': 'tok-a' }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(AuthUnavailableError);
    expect((error as Error).message).toContain('ECONNREFUSED');
    expect((error as Error).cause).toBeInstanceOf(Error);
    await expect(dead.authenticate({})).rejects.toBeInstanceOf(AuthenticationError);
  });

  it('the cache is bounded: the least recently used validation goes first', async () => {
    const small = new KeystoneAuthenticator({
      authUrl: keystone.url,
      username: 'stowage',
      password: 'service-pw',
      projectName: 'service',
      userDomainName: 'Default',
      projectDomainName: 'Default',
      cacheSize: 2,
    });
    for (const token of ['tok-a', 'tok-b', 'tok-a', 'tok-admin']) await small.authenticate({ 'x-auth-token': token });
    const before = keystone.validations;
    await small.authenticate({ 'x-auth-token': 'tok-a' });
    expect(keystone.validations, 'tok-a was used recently: still cached').toBe(before);
    await small.authenticate({ 'x-auth-token': 'tok-b' });
    expect(keystone.validations, 'tok-b was evicted').toBe(before + 1);
  });
});

describe('keystone: roles and projects', () => {
  let volumeA: string;
  let backupA: string;

  beforeAll(async () => {
    const created = await call('POST', '/v3/project-a/volumes', 'tok-a', { volume: { size: 1, name: 'va' } });
    expect(created.statusCode, created.body).toBe(202);
    volumeA = created.json().volume.id as string;
    await waitUntil('volume available', async () => (await call('GET', `/v3/project-a/volumes/${volumeA}`, 'tok-a')).json().volume.status === 'available', 30_000);
    const backup = await call('POST', '/v3/project-a/backups', 'tok-a', { backup: { volume_id: volumeA, name: 'ba' } });
    expect(backup.statusCode, backup.body).toBe(202);
    backupA = backup.json().backup.id as string;
    await waitUntil('backup available', async () => (await call('GET', `/v3/project-a/backups/${backupA}`, 'tok-a')).json().backup.status === 'available', 60_000);
  });

  it('the identity comes from the token: user, project and roles', async () => {
    const shown = await call('GET', `/v3/project-admin/backups/${backupA}`, 'tok-admin', undefined, '3.56');
    expect(shown.headers['openstack-api-version']).toBe('volume 3.56');
    expect(shown.json().backup['os-backup-project-attr:project_id']).toBe('project-a');
    expect(shown.json().backup.user_id).toBe('user-project-a');
  });

  it("a member of project B sees none of project A's backups or volumes", async () => {
    expect((await call('GET', '/v3/project-b/backups/detail', 'tok-b')).json().backups).toEqual([]);
    expect((await call('GET', `/v3/project-b/backups/${backupA}`, 'tok-b')).statusCode).toBe(404);
    expect((await call('GET', `/v3/project-b/volumes/${volumeA}`, 'tok-b')).statusCode).toBe(404);
    // Naming project A in the URL does not help a member of B.
    expect((await call('GET', `/v3/project-a/backups/${backupA}`, 'tok-b')).statusCode).toBe(400);
    const list = (await call('GET', '/v3/project-a/backups', 'tok-a')).json().backups as Array<{ id: string }>;
    expect(list.map((backup) => backup.id)).toContain(backupA);
  });

  it('a member calling an admin action: 403; the admin acts on the member project by id', async () => {
    const denied = await call('POST', `/v3/project-a/backups/${backupA}/action`, 'tok-a', { 'os-reset_status': { status: 'error' } });
    expect(denied.statusCode).toBe(403);
    expect(denied.json()).toEqual({ forbidden: { code: 403, message: expect.stringContaining('reset_status') } });
    expect((await call('GET', `/v3/project-a/backups/${backupA}/export_record`, 'tok-a')).statusCode).toBe(403);

    const exported = await call('GET', `/v3/project-admin/backups/${backupA}/export_record`, 'tok-admin');
    expect(exported.statusCode).toBe(200);
    expect(exported.json()['backup-record'].backup_service).toMatch(/^cinder\.backup\.drivers/);
    const reset = await call('POST', `/v3/project-admin/backups/${backupA}/action`, 'tok-admin', { 'os-reset_status': { status: 'error' } });
    expect(reset.statusCode).toBe(202);
    expect((await call('GET', `/v3/project-a/backups/${backupA}`, 'tok-a')).json().backup.status).toBe('error');
  });
});

describe('keystone: configuration', () => {
  const base = { backends: [{ name: 'b', driver: 'stowage-driver-example' }], auth_strategy: 'keystone' };
  const where = { baseDir: '/srv/stowage', source: 'test' };
  const authtoken = { auth_url: 'http://127.0.0.1:5000/v3', username: 'stowage', project_name: 'service' };

  it('needs keystone_authtoken with exactly one password source; a relative password_file is made absolute', () => {
    expect(() => resolveConfig(base, where)).toThrow(/keystone_authtoken: auth_strategy keystone needs keystone_authtoken/);
    expect(() => resolveConfig({ ...base, keystone_authtoken: authtoken }, where)).toThrow(/give exactly one of password, password_env, password_file/);
    expect(() => resolveConfig({ ...base, keystone_authtoken: { ...authtoken, password: 'a', password_file: 'f' } }, where)).toThrow(/exactly one/);
    expect(() => resolveConfig({ ...base, keystone_authtoken: { ...authtoken, password_env: 'STOWAGE_TEST_UNSET_VARIABLE' } }, where)).toThrow(
      /STOWAGE_TEST_UNSET_VARIABLE is not set/,
    );
    expect(() => resolveConfig({ ...base, keystone_authtoken: { ...authtoken, password: 'a', auth_url: 'ftp://x' } }, where)).toThrow(/auth_url/);
    const config = resolveConfig({ ...base, keystone_authtoken: { ...authtoken, password_file: 'ks-password' } }, where);
    expect(config.keystoneAuthtoken).toMatchObject({
      password_file: '/srv/stowage/ks-password',
      user_domain_name: 'Default',
      project_domain_name: 'Default',
      cache_seconds: 300,
      timeout: 10,
    });
  });
});
