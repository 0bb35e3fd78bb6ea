import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import posixDriver from '../src/index.js';

const run = promisify(execFile);
const dir = await mkdtemp(join(tmpdir(), 'stowage-posix-cache-'));
afterAll(() => rm(dir, { recursive: true, force: true }));
const MiB = 1024 * 1024;

/** Bytes of `path` resident in the page cache, as util-linux's fincore reports them. */
async function residentBytes(path: string): Promise<number> {
  const { stdout } = await run('fincore', ['--bytes', '--noheadings', '--output', 'RES', path]);
  return Number(stdout.trim());
}

async function objectFile(root: string): Promise<string> {
  const files = (await readdir(root, { recursive: true, withFileTypes: true })).filter((entry) => entry.isFile());
  expect(files).toHaveLength(1);
  return join(files[0]!.parentPath, files[0]!.name);
}

// fincore is part of util-linux on every Linux this runs on; elsewhere there is no posix_fadvise to check.
describe.skipIf(process.platform !== 'linux')('posix objects leave the page cache once durable', () => {
  const data = randomBytes(8 * MiB);

  it('drops an fsynced object from the cache, and a read object after readObjectInto', async () => {
    const root = join(dir, 'synced');
    const store = posixDriver.create({ path: root, create_path: true, container: 'c', fsync: true }, { backendName: 'cache', statePath: dir });
    await store.doSetup();
    await store.putObject('c', 'volume_v/backup_b/chunk-000001', data, { length: data.length });
    const file = await objectFile(join(root, 'c'));
    expect(await residentBytes(file)).toBeLessThan(MiB);

    // A plain read caches it again; the engine's read into its own buffer drops it after.
    await run('dd', [`if=${file}`, 'of=/dev/null', 'bs=1M', 'status=none']);
    expect(await residentBytes(file)).toBe(data.length);
    const target = Buffer.alloc(data.length);
    expect(await store.readObjectInto!('c', 'volume_v/backup_b/chunk-000001', target)).toBe(data.length);
    expect(target.equals(data)).toBe(true);
    expect(await residentBytes(file)).toBeLessThan(MiB);
  });

  it('keeps unsynced objects cached (fsync off: nothing is clean to drop)', async () => {
    const root = join(dir, 'unsynced');
    const store = posixDriver.create({ path: root, create_path: true, container: 'c', fsync: false }, { backendName: 'cache', statePath: dir });
    await store.doSetup();
    await store.putObject('c', 'volume_v/backup_b/chunk-000001', data, { length: data.length });
    expect(await residentBytes(await objectFile(join(root, 'c')))).toBe(data.length);
  });
});
