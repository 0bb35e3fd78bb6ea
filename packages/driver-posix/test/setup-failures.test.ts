import { DriverSetupError, NotFoundError, StorageUnavailableError } from '@stowage/core';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import posixDriver, { type PosixStore } from '../src/index.js';
import { describeFsError } from '../src/posix-errors.js';

const run = promisify(execFile);
const dir = await mkdtemp(join(tmpdir(), 'stowage-posix-setup-'));
afterAll(() => rm(dir, { recursive: true, force: true }));
const context = { backendName: 'posix-test', statePath: dir };
const create = (path: string, create_path = true) =>
  posixDriver.create({ path, create_path, container: 'backups', fsync: true }, context);

async function setupError(path: string, create_path = true): Promise<DriverSetupError> {
  const error = await create(path, create_path)
    .doSetup()
    .then(
      () => undefined,
      (thrown: unknown) => thrown,
    );
  expect(DriverSetupError.isInstance(error), `expected DriverSetupError, got ${String(error)}`).toBe(true);
  return error as DriverSetupError;
}

describe('posix doSetup', () => {
  it('creates a missing path when allowed, with the container inside', async () => {
    const path = join(dir, 'new', 'nested');
    await create(path).doSetup();
    expect(await readdir(path)).toEqual(['backups']);
  });

  it('refuses a missing path when create_path is false, saying how to fix it', async () => {
    const error = await setupError(join(dir, 'absent'), false);
    expect(error.message).toMatch(/posix-test.*absent does not exist; create it or set create_path: true/);
  });

  it('refuses a path that is a regular file', async () => {
    const file = join(dir, 'a-file');
    await writeFile(file, 'x');
    const error = await setupError(file);
    expect(error.message).toContain(`${file} is not a folder`);
    await expect(create(file).checkAvailable()).rejects.toSatisfy((e) => StorageUnavailableError.isInstance(e));
  });

  it('refuses a path under a regular file', async () => {
    await writeFile(join(dir, 'a-file-too'), 'x');
    const error = await setupError(join(dir, 'a-file-too', 'below'));
    expect(error.message).toMatch(/a-file-too\/below is not a folder \(ENOTDIR\)/);
  });

  it('refuses a folder it cannot write, naming the cause', async () => {
    const path = join(dir, 'read-only');
    await mkdir(path);
    await chmod(path, 0o555);
    if (process.getuid?.() === 0) {
      // root writes anywhere: check in a child process running the same driver as root without the capabilities
      // that override file modes. It stays root, so it still reads a checkout in a private (mode 0700) folder,
      // which another uid could not.
      const script = `import d from ${JSON.stringify(new URL('../dist/index.js', import.meta.url).href)};
        await d.create({ path: ${JSON.stringify(path)}, create_path: true, container: 'backups', fsync: true }, { backendName: 'posix-test', statePath: '/tmp' })
          .doSetup().then(() => console.log('ok'), (e) => console.log(e.code + ' ' + e.message));`;
      const dropped = '-dac_override,-dac_read_search';
      const { stdout } = await run('setpriv', [`--inh-caps=${dropped}`, `--bounding-set=${dropped}`, process.execPath, '--input-type=module', '-e', script]);
      expect(stdout).toMatch(/^DRIVER_SETUP .*read-only.* is not writable by this process \(check owner and mode\) \(EACCES\)/);
    } else {
      const error = await setupError(path);
      expect(error.message).toMatch(/not writable by this process.*EACCES/);
    }
  });

  it('leaves no probe file behind', async () => {
    const path = join(dir, 'clean');
    await create(path).doSetup();
    await create(path).doSetup();
    expect(await readdir(path)).toEqual(['backups']);
  });

  it('describes full disks and read-only mounts', () => {
    const enospc = Object.assign(new Error('write failed'), { code: 'ENOSPC' });
    const erofs = Object.assign(new Error('open failed'), { code: 'EROFS' });
    expect(describeFsError('/srv/b', enospc)).toBe('/srv/b has no space left (ENOSPC)');
    expect(describeFsError('/srv/b', erofs)).toBe('/srv/b is on a read-only filesystem (EROFS)');
  });
});

describe('posix layout', () => {
  it('fans objects out, writes atomically, and cleans empty folders on delete', async () => {
    const path = join(dir, 'layout');
    const driver = create(path);
    await driver.doSetup();
    const data = Buffer.from('chunk payload');
    const sha = (await import('node:crypto')).createHash('sha256').update(data).digest('hex');
    for (let i = 0; i < 40; i += 1) {
      await driver.putObject('backups', `volume_v/backup_b/chunk-${i}`, data, { length: data.length, sha256: sha });
    }
    const fanouts = await readdir(join(path, 'backups', 'volume_v', 'backup_b'));
    expect(fanouts.length).toBeGreaterThan(10);
    expect(fanouts.every((name) => /^@[0-9a-f]{2}$/.test(name))).toBe(true);
    const [first] = fanouts;
    const [file] = await readdir(join(path, 'backups', 'volume_v', 'backup_b', first!));
    expect(await readFile(join(path, 'backups', 'volume_v', 'backup_b', first!, file!))).toEqual(data);

    await expect(
      driver.putObject('backups', 'volume_v/short', data, { length: data.length + 1, sha256: sha }),
    ).rejects.toThrow(/announced/);
    await expect(driver.getObject('backups', 'volume_v/short')).rejects.toSatisfy((e) => NotFoundError.isInstance(e));

    for (let i = 0; i < 40; i += 1) await driver.deleteObject('backups', `volume_v/backup_b/chunk-${i}`);
    expect(await readdir(join(path, 'backups'))).toEqual([]);
  });

  it('reads an object straight into a buffer, refusing one that does not fit', async () => {
    const driver = create(join(dir, 'direct')) as PosixStore;
    await driver.doSetup();
    const data = Buffer.from('direct read of a stored chunk');
    await driver.putObject('backups', 'volume_v/backup_b/chunk-000001', data, { length: data.length });
    const target = Buffer.alloc(64);
    expect(await driver.readObjectInto('backups', 'volume_v/backup_b/chunk-000001', target)).toBe(data.length);
    expect(target.subarray(0, data.length)).toEqual(data);
    await expect(driver.readObjectInto('backups', 'volume_v/backup_b/chunk-000001', Buffer.alloc(4))).rejects.toThrow(RangeError);
    await expect(driver.readObjectInto('backups', 'volume_v/backup_b/missing', target)).rejects.toSatisfy((e) => NotFoundError.isInstance(e));
  });

  it('rejects keys it could not store faithfully', async () => {
    const driver = create(join(dir, 'keys'));
    await driver.doSetup();
    for (const key of ['a//b', '../escape', 'a/.hidden', 'a/@fanout', '']) {
      await expect(driver.getObject('backups', key)).rejects.toThrow(/cannot be stored by the posix driver/);
    }
  });
});
