/**
 * The shared fault suite on a local folder. "The server stopped" is the storage going away under the driver, as a
 * network mount does: the backup folder is renamed away and back. The driver must then fail every call as
 * unavailable, never write into whatever is left at the path, and never report stored objects as missing.
 */
import { mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFromPlugin, runDriverFaultSuite } from '@stowage/testkit';
import posixDriver from '../src/index.js';

const root = await mkdtemp(join(tmpdir(), 'stowage-posix-faults-'));
const path = join(root, 'backups');
const away = join(root, 'backups-gone');
await mkdir(path);

// create_path off: a setup retried during the outage must not create a fresh, empty folder in the storage's place.
const create = (overrides: Record<string, unknown> = {}) =>
  createFromPlugin(posixDriver, { path, create_path: false, ...overrides }, { backendName: 'posix-faults' });

runDriverFaultSuite({
  name: 'posix',
  createDriver: () => create(),
  badCredentials: {
    notApplicable: 'a folder has no credentials; a folder this process may not write is covered in setup-failures.test.ts',
  },
  missingContainer: { create: (name) => create({ path: join(root, name) }), option: 'create_path' },
  serverStopped: {
    stop: () => rename(path, away),
    start: () =>
      rename(away, path).catch((error: unknown) => {
        // Not stopped (the suite's final start, or the case failed before stopping).
        if ((error as { code?: string }).code !== 'ENOENT') throw error;
      }),
    message: /does not exist/,
    failFastMs: 5000,
  },
  unansweredRequest: {
    notApplicable: "a local filesystem call sends no request that could go unanswered (a hung server is the NFS driver's case)",
  },
  cleanup: () => rm(root, { recursive: true, force: true }),
});
