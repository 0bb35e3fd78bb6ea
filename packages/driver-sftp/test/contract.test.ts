import { runDriverContractSuite } from '@stowage/testkit';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'vitest';
import { createSftp, removeServerFolder, sshdTestServer } from './sftp-test-helpers.js';

const server = sshdTestServer();

if (server.requirement.available) {
  const endpoints = server.endpoints();
  const path = `contract-${randomUUID().slice(0, 8)}`;

  await runDriverContractSuite({
    name: 'sftp',
    setup: async () => ({ driver: await createSftp(endpoints, path), cleanup: () => removeServerFolder(endpoints, path) }),
    // A key the server does not know: doSetup must fail.
    createBrokenDriver: () => createSftp(endpoints, path, { private_key_path: '/nonexistent/stowage-no-such-key' }),
    timeoutMs: 120_000,
  });
} else {
  describe.skip(`driver contract: sftp (${server.requirement.reason})`, () => {
    it('needs the SFTP test server', () => {});
  });
}
