/** The shared contract suite against the GCS emulator (every group the driver's capabilities call for). */
import { runDriverContractSuite } from '@stowage/testkit';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'vitest';
import { createGcsDriver, emptyBucket, gcsTestOptions, gcsTestServer } from './gcs-test-helpers.js';

const server = gcsTestServer();

if (server.requirement.available) {
  const { endpoint } = server.endpoints();
  const bucket = `stowage-contract-${randomUUID().slice(0, 8)}`;
  // An object prefix, so that every call goes through the name mapping.
  const create = (overrides: Record<string, unknown> = {}) => createGcsDriver(gcsTestOptions(endpoint, bucket, { object_prefix: 'stowage/', ...overrides }));
  const cleanupDriver = await create();

  await runDriverContractSuite({
    name: 'gcs',
    setup: async () => ({ driver: await create(), cleanup: () => emptyBucket(cleanupDriver, bucket) }),
    // A key file that does not exist: doSetup names credentials_file.
    createBrokenDriver: () => create({ anonymous: false, credentials_file: '/nonexistent/stowage-gcs-key.json' }),
    timeoutMs: 120_000,
  });
} else {
  describe.skip(`driver contract: gcs (${server.requirement.reason})`, () => {
    it('needs the GCS emulator', () => {});
  });
}
