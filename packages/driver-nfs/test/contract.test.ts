import { runDriverContractSuite } from '@stowage/testkit';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'vitest';
import { createNfsDriver, nfsTestServer } from './nfs-test-helpers.js';

const server = nfsTestServer();

if (server.requirement.available) {
  const endpoints = server.endpoints();
  // A fresh base folder per run, created by doSetup: nothing is ever changed behind ganesha's back.
  const baseDir = `contract-${randomUUID().slice(0, 8)}`;
  const create = (overrides: Record<string, unknown> = {}) => createNfsDriver(endpoints, 'nfs-test', { base_dir: baseDir, ...overrides });

  await runDriverContractSuite({
    name: 'nfs',
    setup: async () => ({ driver: await create() }),
    // An export the server does not have: MOUNT answers MNT3ERR_NOENT or MNT3ERR_ACCES.
    createBrokenDriver: () => create({ export: '/no-such-export' }),
    timeoutMs: 120_000,
  });
} else {
  describe.skip(`driver contract: nfs (${server.requirement.reason})`, () => {
    it('needs the NFS test server', () => {});
  });
}
