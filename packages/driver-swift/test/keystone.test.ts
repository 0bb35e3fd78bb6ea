/**
 * Keystone v3 auth and token renewal. Keystone itself is not run (sqlite locking makes it flaky, TEST-SERVERS.md):
 * a minimal stand-in answers `POST /v3/auth/tokens` the way Keystone does, handing out tokens that the real
 * Swift cluster accepts (tempauth tokens) and a catalog that points at it. So the driver's v3 request, catalog
 * parsing and renewal on 401 run against the real object server.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DriverSetupError } from '@stowage/core';
import plugin, { type SwiftOptionsInput } from '../src/index.js';
import { adminToken, deleteContainer, swiftTestServer, type SwiftEndpoints } from './swift-test-helpers.js';

const server = swiftTestServer();

describe.skipIf(!server.requirement.available)('swift with Keystone v3 auth', () => {
  let endpoints: SwiftEndpoints;
  let keystone: Server;
  let keystoneUrl = '';
  const requests: Array<{ auth: { identity: Record<string, unknown>; scope?: unknown } }> = [];
  /** Tokens the stand-in hands out next; a bogus one makes Swift answer 401. */
  const nextTokens: string[] = [];
  /** Lifetime of the tokens handed out. */
  let tokenLifetimeMs = 3_600_000;
  const container = `stowage-keystone-${randomUUID().slice(0, 8)}`;

  beforeAll(async () => {
    endpoints = server.endpoints();
    keystone = createServer((request, response) => {
      let body = '';
      request.on('data', (part: Buffer) => (body += part.toString()));
      request.on('end', () => {
        void (async () => {
          if (request.method !== 'POST' || request.url !== '/v3/auth/tokens') {
            response.writeHead(404).end();
            return;
          }
          const parsed = JSON.parse(body) as (typeof requests)[number];
          requests.push(parsed);
          const identity = parsed.auth.identity as { methods: string[]; password?: { user: { password: string } } };
          if (identity.methods[0] === 'password' && identity.password?.user.password !== 'secret') {
            response.writeHead(401, { 'Content-Type': 'application/json' }).end('{"error":{"code":401}}');
            return;
          }
          const token = nextTokens.shift() ?? (await adminToken(endpoints));
          response
            .writeHead(201, { 'Content-Type': 'application/json', 'X-Subject-Token': token })
            .end(
              JSON.stringify({
                token: {
                  expires_at: new Date(Date.now() + tokenLifetimeMs).toISOString(),
                  catalog: [
                    { type: 'identity', endpoints: [{ interface: 'public', region_id: 'RegionOne', url: keystoneUrl }] },
                    {
                      type: 'object-store',
                      endpoints: [
                        { interface: 'internal', region_id: 'RegionOne', url: 'http://127.0.0.1:9/wrong-interface' },
                        { interface: 'public', region_id: 'RegionTwo', url: 'http://127.0.0.1:9/wrong-region' },
                        { interface: 'public', region_id: 'RegionOne', url: endpoints.storageUrl },
                      ],
                    },
                  ],
                },
              }),
            );
        })();
      });
    });
    await new Promise<void>((resolve) => keystone.listen(0, '127.0.0.1', resolve));
    keystoneUrl = `http://127.0.0.1:${(keystone.address() as AddressInfo).port}/v3`;
  });

  afterAll(async () => {
    await new Promise((resolve) => keystone.close(resolve));
    await deleteContainer(endpoints, container);
  });

  const create = async (overrides: Partial<SwiftOptionsInput>) => {
    const result = await plugin.optionsSchema['~standard'].validate({
      auth_url: keystoneUrl,
      auth_version: '3',
      container,
      region_name: 'RegionOne',
      retry_attempts: 1,
      retry_backoff: 0.05,
      ...overrides,
    });
    if (result.issues) throw new Error(JSON.stringify(result.issues));
    return plugin.create(result.value, { backendName: 'swift-keystone', statePath: '/nonexistent' });
  };

  it('authenticates with a password, scoped to a project, and uses the catalog endpoint', async () => {
    const driver = await create({ user: 'backup', key: 'secret', project_name: 'service' });
    await driver.doSetup();
    expect(requests.at(-1)?.auth).toEqual({
      identity: { methods: ['password'], password: { user: { name: 'backup', domain: { name: 'Default' }, password: 'secret' } } },
      scope: { project: { name: 'service', domain: { name: 'Default' } } },
    });
  });

  it('authenticates with an application credential', async () => {
    const driver = await create({ application_credential_id: 'app-id', application_credential_secret: 'app-secret' });
    await driver.checkAvailable();
    expect(requests.at(-1)?.auth).toEqual({
      identity: { methods: ['application_credential'], application_credential: { id: 'app-id', secret: 'app-secret' } },
    });
  });

  it('a wrong password fails doSetup naming authentication', async () => {
    const driver = await create({ user: 'backup', key: 'wrong', project_name: 'service' });
    const error = await driver.doSetup().then(
      () => undefined,
      (thrown: unknown) => thrown as Error,
    );
    expect(DriverSetupError.isInstance(error), String(error)).toBe(true);
    expect(error?.message).toMatch(/authentication as user backup at .*\/v3\/auth\/tokens/);
  });

  it('renews a token shortly before Keystone says it expires', async () => {
    const driver = await create({ user: 'backup', key: 'secret', project_name: 'service' });
    tokenLifetimeMs = 30_000;
    try {
      const before = requests.length;
      await driver.checkAvailable();
      await driver.checkAvailable();
      // Each token lives less than the one-minute margin: every call authenticates again.
      expect(requests.length - before).toBe(2);
    } finally {
      tokenLifetimeMs = 3_600_000;
    }
    const before = requests.length;
    await driver.checkAvailable();
    await driver.checkAvailable();
    expect(requests.length - before).toBe(1);
  });

  it('renews a token that Swift refuses (401) and repeats the call', async () => {
    const driver = await create({ user: 'backup', key: 'secret', project_name: 'service' });
    nextTokens.push('AUTH_tk-revoked-or-expired');
    const before = requests.length;
    await driver.putObject(container, 'renewed', Buffer.from('ok'), { length: 2, sha256: '' });
    // First token refused by Swift, second one (fresh) worked.
    expect(requests.length - before).toBe(2);
    const keys: string[] = [];
    for await (const key of driver.listObjects(container, 'renewed')) keys.push(key);
    expect(keys).toEqual(['renewed']);
  });
});
