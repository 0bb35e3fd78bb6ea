import { createFromPlugin, runDriverContractSuite } from '@stowage/testkit';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'vitest';
import plugin, { type S3Store } from '../src/index.js';
import { deleteBucket, s3TestOptions, swiftTestServer } from './s3-test-helpers.js';

const server = swiftTestServer();

if (server.requirement.available) {
  const endpoints = server.endpoints();
  const bucket = `stowage-contract-${randomUUID().slice(0, 8)}`;
  // Small listing pages and a low multipart threshold, so that the suite's 260-object listing crosses several
  // pages and its 40 MiB streamed object goes up as a multipart upload.
  const create = (overrides: Record<string, unknown> = {}) =>
    createFromPlugin(
      plugin,
      {
        ...s3TestOptions(endpoints, bucket),
        listing_page_size: 100,
        multipart_threshold: 16 * 1024 * 1024,
        multipart_part_size: 8 * 1024 * 1024,
        ...overrides,
      },
      { backendName: 's3-test' },
    );
  const cleanupDriver = (await create()) as S3Store;

  await runDriverContractSuite({
    name: 's3',
    setup: async () => ({
      driver: await create(),
      cleanup: async () => {
        await deleteBucket(cleanupDriver, bucket);
        await cleanupDriver.close();
      },
    }),
    createBrokenDriver: () => create({ secret_key: 'not-the-secret' }),
    timeoutMs: 120_000,
  });
} else {
  describe.skip(`driver contract: s3 (${server.requirement.reason})`, () => {
    it('needs the Swift test cluster with s3api', () => {});
  });
}
