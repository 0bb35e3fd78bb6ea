/** The options schema and the error mapping: pure logic, no server. */
import { ConfigError, NotFoundError, StorageAuthError, StorageUnavailableError, validateOptions } from '@stowage/driver-contract';
import { describe, expect, it } from 'vitest';
import plugin from '../src/index.js';
import { toStowageError } from '../src/nfs-errors.js';
import { MountError, Nfs3Error } from '../src/nfs3/nfs3-client.js';
import { RpcConnectionError, RpcRejectedError, RpcTimeoutError } from '../src/rpc/rpc-client.js';

const validate = (options: unknown) => validateOptions(plugin.optionsSchema, options, 'backends[0].options');

describe('nfs options', () => {
  it('applies the defaults', async () => {
    const options = await validate({ server: 'nfs.example', export: '/srv/backup' });
    expect(options).toMatchObject({ portmapper_port: 111, uid: 0, gid: 0, base_dir: '', container: 'volumebackups', timeout: 30, io_size: 1024 * 1024 });
    expect(options.nfs_port).toBeUndefined();
  });

  it('names every bad field in one message', async () => {
    const error = await validate({ server: '', export: 'backup', nfs_port: 2049, base_dir: '../x', container: '.hidden', uid: -1, extra: 1 }).catch((thrown: unknown) => thrown);
    expect(ConfigError.isInstance(error)).toBe(true);
    const paths = (error as ConfigError).issues.map((issue) => issue.path);
    for (const field of ['server', 'export', 'base_dir', 'container', 'uid', 'mount_port']) expect(paths).toContain(`backends[0].options.${field}`);
    expect((error as ConfigError).message).toMatch(/extra/);
  });
});

describe('nfs error mapping', () => {
  const context = { backend: 'b1', operation: 'put of object c/k', container: 'c', object: 'k', where: '127.0.0.1:/backup', identity: 'AUTH_SYS uid 5 gid 6' };
  const nfs = (status: number) => new Nfs3Error(status, 'WRITE', 'NFS server 127.0.0.1', 'at offset 0');

  it('maps NFS statuses to the typed errors, naming backend, object and cause', () => {
    for (const [status, type, text] of [
      [2, NotFoundError, /does not exist \(NFS3ERR_NOENT\)/],
      [28, StorageUnavailableError, /no space left on 127\.0\.0\.1:\/backup \(NFS3ERR_NOSPC\)/],
      [69, StorageUnavailableError, /quota of AUTH_SYS uid 5 gid 6 exceeded/],
      [13, StorageAuthError, /AUTH_SYS uid 5 gid 6 may not write there/],
      [70, StorageUnavailableError, /NFS3ERR_STALE/],
      [10008, StorageUnavailableError, /NFS3ERR_JUKEBOX/],
    ] as const) {
      const error = toStowageError(nfs(status), context);
      expect(type.isInstance(error), `${status}: ${String(error)}`).toBe(true);
      expect(error.message).toMatch(text);
      expect(error.message).toMatch(/^nfs backend b1: put of object c\/k/);
      expect(error.object).toBe('k');
      expect(error.cause).toBeInstanceOf(Nfs3Error);
    }
  });

  it('maps refused mounts, refused and silent connections, and RPC refusals', () => {
    expect(toStowageError(new MountError(13, '/nope', 'MOUNT server'), context).message).toMatch(/refused to mount 127\.0\.0\.1:\/backup \(MNT3ERR_ACCES\)/);
    const refused = toStowageError(new RpcConnectionError('NFS server: connect ECONNREFUSED', 'ECONNREFUSED'), context);
    expect(StorageUnavailableError.isInstance(refused)).toBe(true);
    expect(refused.message).toMatch(/cannot reach the NFS server at 127\.0\.0\.1:\/backup \(ECONNREFUSED/);
    expect(StorageUnavailableError.isInstance(toStowageError(new RpcTimeoutError('no answer', 'ETIMEDOUT'), context))).toBe(true);
    expect(StorageAuthError.isInstance(toStowageError(new RpcRejectedError('AUTH_TOOWEAK', 'RPC_AUTH_ERROR'), context))).toBe(true);
  });
});
