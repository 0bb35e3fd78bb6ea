import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFromPlugin, runDriverContractSuite } from '@stowage/testkit';
import posixDriver from '../src/index.js';

const create = (path: string) => createFromPlugin(posixDriver, { path }, { backendName: 'posix-contract' });

await runDriverContractSuite({
  name: 'posix',
  setup: async () => {
    const root = await mkdtemp(join(tmpdir(), 'stowage-posix-contract-'));
    return { driver: await create(join(root, 'backups')), cleanup: () => rm(root, { recursive: true, force: true }) };
  },
  createBrokenDriver: async () => {
    // The classic misconfiguration: the backup path is an existing regular file.
    const file = join(await mkdtemp(join(tmpdir(), 'stowage-posix-broken-')), 'not-a-folder');
    await writeFile(file, 'x');
    return create(file);
  },
});
