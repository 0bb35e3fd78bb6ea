import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runDriverContractSuite } from '@stowage/testkit';
import posixDriver from '../src/index.js';

const context = { backendName: 'posix-contract', statePath: tmpdir() };

runDriverContractSuite({
  name: 'posix',
  setup: async () => {
    const root = await mkdtemp(join(tmpdir(), 'stowage-posix-contract-'));
    return {
      driver: posixDriver.create({ path: join(root, 'backups'), create_path: true, container: 'backups', fsync: true }, context),
      cleanup: () => rm(root, { recursive: true, force: true }),
    };
  },
  createBrokenDriver: async () => {
    // The classic misconfiguration: the backup path is an existing regular file.
    const file = join(await mkdtemp(join(tmpdir(), 'stowage-posix-broken-')), 'not-a-folder');
    await writeFile(file, 'x');
    return posixDriver.create({ path: file, create_path: true, container: 'backups', fsync: true }, context);
  },
});
