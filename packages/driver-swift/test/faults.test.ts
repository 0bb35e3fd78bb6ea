/**
 * The shared fault suite against the real cluster (bad credentials, a missing container, the proxy stopped before
 * and in the middle of a backup, a request never answered), and what only Swift has.
 */
import { createFromPlugin, runDriverFaultSuite } from '@stowage/testkit';
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import plugin from '../src/index.js';
import { deleteContainer, swiftTestServer } from './swift-test-helpers.js';

const MiB = 1024 * 1024;
const server = swiftTestServer();

if (server.requirement.available) {
  const endpoints = server.endpoints();
  const container = `stowage-faults-${randomUUID().slice(0, 8)}`;
  const create = (overrides: Record<string, unknown> = {}) =>
    createFromPlugin(
      plugin,
      { auth_url: endpoints.authUrl, user: endpoints.user, key: endpoints.key, container, retry_attempts: 2, retry_backoff: 0.05, timeout: 20, ...overrides },
      { backendName: 'swift-faults' },
    );
  const proxy = (action: 'stop-server' | 'start-server') => () => server.control(action, 'proxy');

  runDriverFaultSuite({
    name: 'swift',
    createDriver: () => create(),
    badCredentials: {
      create: () => create({ key: 'wrong-key' }),
      message: new RegExp(`authentication as user test:tester at ${endpoints.authUrl.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`),
    },
    missingContainer: { create: (name) => create({ container: name, create_container: false }), option: 'create_container' },
    // Two retries with a 50 ms backoff: failing fast, not hanging.
    serverStopped: { stop: proxy('stop-server'), start: proxy('start-server'), message: /ECONNREFUSED/, failFastMs: 10_000 },
    unansweredRequest: {
      create: (url) => create({ auth_url: `${url}/auth/v1.0`, timeout: 0.3, retry_attempts: 1 }),
      withinMs: 5000,
      message: /no answer within 0.3 s/,
    },
    cleanup: () => deleteContainer(endpoints, container),
  });

  describe('swift specifics', () => {
    it('creates the container when create_container is on, and reads the object size limit from /info', async () => {
      const driver = await create();
      await driver.doSetup();
      await driver.checkAvailable();
      expect(driver.capabilities.maxObjectSize).toBe(5 * 1024 * MiB + 2);
    });
  });
} else {
  describe.skip(`driver faults: swift (${server.requirement.reason})`, () => {
    it('needs the Swift test cluster', () => {});
  });
}
