import { createFromPlugin, runDriverContractSuite } from '@stowage/testkit';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'vitest';
import plugin from '../src/index.js';
import { deleteContainer, swiftTestServer } from './swift-test-helpers.js';

const server = swiftTestServer();

if (server.requirement.available) {
  const endpoints = server.endpoints();
  const container = `stowage-contract-${randomUUID().slice(0, 8)}`;
  const create = (overrides: Record<string, unknown> = {}) =>
    createFromPlugin(
      plugin,
      {
        auth_url: endpoints.authUrl,
        user: endpoints.user,
        key: endpoints.key,
        container,
        retry_attempts: 2,
        retry_backoff: 0.05,
        timeout: 30,
        // Small pages, so that the suite's 260-object listing crosses several of them.
        listing_page_size: 100,
        ...overrides,
      },
      { backendName: 'swift-test' },
    );

  await runDriverContractSuite({
    name: 'swift',
    setup: async () => ({ driver: await create(), cleanup: () => deleteContainer(endpoints, container) }),
    createBrokenDriver: () => create({ key: 'not-the-key' }),
    timeoutMs: 120_000,
  });
} else {
  describe.skip(`driver contract: swift (${server.requirement.reason})`, () => {
    it('needs the Swift test cluster', () => {});
  });
}
