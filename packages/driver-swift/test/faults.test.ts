/**
 * Failure cases against the real cluster: bad credentials, a missing container, the proxy stopped (before and in
 * the middle of a backup) and started again.
 */
import {
  DriverSetupError,
  StorageAuthError,
  StorageUnavailableError,
  type StorageDriver,
} from '@stowage/core';
import { rejectionOf, runOutageDuringBackup } from '@stowage/testkit';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import plugin, { type SwiftOptionsInput } from '../src/index.js';
import { deleteContainer, swiftTestServer, type SwiftEndpoints } from './swift-test-helpers.js';

const MiB = 1024 * 1024;
const server = swiftTestServer();

describe.skipIf(!server.requirement.available)('swift faults', () => {
  let endpoints: SwiftEndpoints;
  let workDir = '';
  const container = `stowage-faults-${randomUUID().slice(0, 8)}`;

  const create = async (overrides: Partial<SwiftOptionsInput> = {}): Promise<StorageDriver> => {
    const result = await plugin.optionsSchema['~standard'].validate({
      auth_url: endpoints.authUrl,
      user: endpoints.user,
      key: endpoints.key,
      container,
      retry_attempts: 2,
      retry_backoff: 0.05,
      timeout: 20,
      ...overrides,
    });
    if (result.issues) throw new Error(`bad test options: ${JSON.stringify(result.issues)}`);
    return plugin.create(result.value, { backendName: 'swift-faults', statePath: '/nonexistent' });
  };

  beforeAll(async () => {
    endpoints = server.endpoints();
    workDir = await mkdtemp(join(tmpdir(), 'stowage-swift-faults-'));
  });

  afterAll(async () => {
    // Whatever happened, leave the proxy running for the next test file.
    await server.control('start-server', 'proxy');
    await deleteContainer(endpoints, container);
    await rm(workDir, { recursive: true, force: true });
  });

  it('a wrong key fails doSetup with a DriverSetupError naming authentication', async () => {
    const driver = await create({ key: 'wrong-key' });
    const error = await rejectionOf(driver.doSetup());
    expect(DriverSetupError.isInstance(error), String(error)).toBe(true);
    expect(error.message).toMatch(/authentication as user test:tester/);
    expect(error.message).toContain(endpoints.authUrl);
    expect(StorageAuthError.isInstance(error.cause), String(error.cause)).toBe(true);
    // Outside doSetup the same refusal is a StorageAuthError.
    const put = await rejectionOf(driver.putObject(container, 'x', Buffer.from('x'), { length: 1, sha256: '' }));
    expect(StorageAuthError.isInstance(put), String(put)).toBe(true);
  });

  it('a missing container with create_container off fails doSetup naming the container', async () => {
    const missing = `stowage-missing-${randomUUID().slice(0, 8)}`;
    const driver = await create({ container: missing, create_container: false });
    const error = await rejectionOf(driver.doSetup());
    expect(DriverSetupError.isInstance(error), String(error)).toBe(true);
    expect(error.message).toContain(`container ${missing} does not exist`);
    expect(error.message).toContain('create_container');
    expect((error as DriverSetupError).container).toBe(missing);
    const check = await rejectionOf(driver.checkAvailable());
    expect(StorageUnavailableError.isInstance(check), String(check)).toBe(true);
    expect(check.message).toContain(`container ${missing} does not exist`);
  });

  it('creates the container when create_container is on', async () => {
    const driver = await create();
    await driver.doSetup();
    await driver.checkAvailable();
    expect(driver.capabilities.maxObjectSize).toBe(5 * 1024 * MiB + 2);
  });

  it('the proxy stopped gives StorageUnavailableError, and the same driver works once it is back', async () => {
    const driver = await create();
    await driver.doSetup();
    await driver.putObject(container, 'before-stop', Buffer.from('x'), { length: 1, sha256: '' });
    await server.control('stop-server', 'proxy');
    try {
      const started = Date.now();
      const check = await rejectionOf(driver.checkAvailable());
      expect(StorageUnavailableError.isInstance(check), String(check)).toBe(true);
      expect(check.message).toMatch(/ECONNREFUSED/);
      const put = await rejectionOf(driver.putObject(container, 'during-stop', Buffer.from('y'), { length: 1, sha256: '' }));
      expect(StorageUnavailableError.isInstance(put), String(put)).toBe(true);
      expect((put as StorageUnavailableError).object).toBe('during-stop');
      const setup = await rejectionOf(driver.doSetup());
      expect(DriverSetupError.isInstance(setup), String(setup)).toBe(true);
      expect(StorageUnavailableError.isInstance(setup.cause)).toBe(true);
      // Two retries with a 50 ms backoff: failing fast, not hanging.
      expect(Date.now() - started).toBeLessThan(10_000);
    } finally {
      await server.control('start-server', 'proxy');
    }
    // No new client: the driver reconnects (and its token, kept in memcached, is still valid).
    await driver.checkAvailable();
    await driver.putObject(container, 'after-restart', Buffer.from('z'), { length: 1, sha256: '' });
    const keys: string[] = [];
    for await (const key of driver.listObjects(container, '')) keys.push(key);
    expect(keys).toEqual(expect.arrayContaining(['before-stop', 'after-restart']));
  });

  it('the proxy stopped in the middle of a backup fails it cleanly; after restart, delete leaves no orphans', async () => {
    const driver = await create();
    await driver.doSetup();
    const { error, orphans } = await runOutageDuringBackup({
      driver,
      container: container,
      workDir,
      stopServer: () => server.control('stop-server', 'proxy'),
      startServer: () => server.control('start-server', 'proxy'),
    });
    expect(StorageUnavailableError.isInstance(error), String(error)).toBe(true);
    expect(orphans).toEqual([]);
  });
});
