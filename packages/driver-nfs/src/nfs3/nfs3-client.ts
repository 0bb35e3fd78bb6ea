/**
 * A typed promise client for MOUNT v3 and NFSv3 over the package's ONC-RPC client: each procedure is one method,
 * every call has a timeout, calls that failed on a dropped or silent connection are retried (with backoff) on a new
 * one, and NFS errors come back as `Nfs3Error` with the status name (`NFS3ERR_NOSPC`).
 */
import { retrying } from '@stowage/driver-utils';
import { RpcClient, RpcConnectionError, RpcTimeoutError, type AuthSys } from '../rpc/rpc-client.js';
import { XdrWriter, type XdrReader } from '../rpc/xdr.js';
import {
  CREATE_GUARDED,
  CREATE_UNCHECKED,
  IPPROTO_TCP,
  MOUNT3_STATUS,
  MOUNTPROC3_MNT,
  MOUNTPROC3_UMNT,
  MOUNT_PROGRAM,
  MOUNT_VERSION,
  NFS3_OK,
  NFS3_STATUS,
  NFSPROC3,
  NFS_PROGRAM,
  NFS_VERSION,
  PMAPPROC_GETPORT,
  PORTMAP_PROGRAM,
  PORTMAP_VERSION,
  decodeFattr,
  decodeFsInfo,
  decodeHandle,
  decodePostOpAttr,
  decodePostOpHandle,
  decodeRead,
  decodeReaddirPlus,
  decodeWrite,
  encodeDirOp,
  encodeModeOnly,
  skipWcc,
  type DirPage,
  type FileAttributes,
  type FsInfo,
  type NfsProcedure,
  type ReadResult,
  type StableHow,
  type WriteResult,
} from './nfs3-protocol.js';

/** An NFSv3 procedure answered with a status other than NFS3_OK. */
export class Nfs3Error extends Error {
  override readonly name = 'Nfs3Error';
  /** e.g. `NFS3ERR_NOENT`. */
  readonly code: string;
  constructor(
    readonly status: number,
    readonly procedure: NfsProcedure,
    label: string,
    what: string,
  ) {
    const code = NFS3_STATUS[status] ?? `nfsstat3 ${status}`;
    super(`${label}: ${procedure} ${what}: ${code}`);
    this.code = code;
  }
}

/** MOUNT refused the export path. */
export class MountError extends Error {
  override readonly name = 'MountError';
  /** e.g. `MNT3ERR_ACCES`. */
  readonly code: string;
  constructor(
    readonly status: number,
    readonly exportPath: string,
    label: string,
  ) {
    const code = MOUNT3_STATUS[status] ?? `mountstat3 ${status}`;
    super(`${label}: MOUNT of ${exportPath} was refused: ${code}`);
    this.code = code;
  }
}

export interface Nfs3ClientOptions {
  readonly host: string;
  /** NFS and MOUNT ports; asked from the portmapper when absent. */
  readonly nfsPort?: number | undefined;
  readonly mountPort?: number | undefined;
  readonly portmapperPort: number;
  readonly auth: AuthSys;
  /** Per call. */
  readonly timeoutMs: number;
  readonly connectTimeoutMs: number;
  /** Attempts per call on a dropped connection, a timeout or NFS3ERR_JUKEBOX (the first included). */
  readonly attempts: number;
  readonly backoffMs: number;
  /** Largest reply accepted: the largest READ plus headers. */
  readonly maxRecordBytes: number;
}

export interface NfsCallOptions {
  readonly signal?: AbortSignal | undefined;
}

export interface LookupResult {
  readonly handle: Buffer;
  readonly attributes: FileAttributes | undefined;
}

/** True for failures a new attempt (on a new connection, if it dropped) may get past. */
export function isRetryableNfsFailure(error: unknown): boolean {
  if (error instanceof RpcConnectionError) return error.code !== 'ERR_CLIENT_CLOSED';
  if (error instanceof RpcTimeoutError) return true;
  return error instanceof Nfs3Error && error.code === 'NFS3ERR_JUKEBOX';
}

export class Nfs3Client {
  readonly #options: Nfs3ClientOptions;
  readonly label: string;
  #ports: Promise<{ nfs: RpcClient; mount: RpcClient }> | undefined;
  #rpcs: RpcClient[] = [];
  readonly #fromPortmapper: boolean;

  constructor(options: Nfs3ClientOptions) {
    this.#options = options;
    this.label = `NFS server ${options.host}`;
    this.#fromPortmapper = options.nfsPort === undefined || options.mountPort === undefined;
  }

  async mount(exportPath: string, options: NfsCallOptions = {}): Promise<Buffer> {
    const reader = await this.#call('mount', MOUNTPROC3_MNT, 'MNT', new XdrWriter().string(exportPath), options);
    const status = reader.uint32();
    if (status !== 0) throw new MountError(status, exportPath, this.label);
    return decodeHandle(reader);
  }

  async unmount(exportPath: string, options: NfsCallOptions = {}): Promise<void> {
    await this.#call('mount', MOUNTPROC3_UMNT, 'UMNT', new XdrWriter().string(exportPath), options);
  }

  async fsinfo(root: Buffer, options: NfsCallOptions = {}): Promise<FsInfo> {
    const reader = await this.#nfs('FSINFO', new XdrWriter().opaque(root), 'of the export root', options);
    return decodeFsInfo(reader);
  }

  async getattr(handle: Buffer, what: string, options: NfsCallOptions = {}): Promise<FileAttributes> {
    const reader = await this.#nfs('GETATTR', new XdrWriter().opaque(handle), what, options);
    return decodeFattr(reader);
  }

  async lookup(dir: Buffer, name: string, what: string, options: NfsCallOptions = {}): Promise<LookupResult> {
    const reader = await this.#nfs('LOOKUP', encodeDirOp(new XdrWriter(), dir, name), what, options);
    const handle = decodeHandle(reader);
    return { handle, attributes: decodePostOpAttr(reader) };
  }

  /** CREATE a regular file; `guarded` fails with NFS3ERR_EXIST when the name is taken. */
  async create(dir: Buffer, name: string, mode: number, guarded: boolean, what: string, options: NfsCallOptions = {}): Promise<Buffer> {
    const args = encodeDirOp(new XdrWriter(), dir, name).uint32(guarded ? CREATE_GUARDED : CREATE_UNCHECKED);
    encodeModeOnly(args, mode);
    const reader = await this.#nfs('CREATE', args, what, options);
    return (await this.#handleOrLookup(reader, dir, name, what, options)).handle;
  }

  async mkdir(dir: Buffer, name: string, mode: number, what: string, options: NfsCallOptions = {}): Promise<Buffer> {
    const args = encodeModeOnly(encodeDirOp(new XdrWriter(), dir, name), mode);
    const reader = await this.#nfs('MKDIR', args, what, options);
    return (await this.#handleOrLookup(reader, dir, name, what, options)).handle;
  }

  async write(handle: Buffer, offset: number, data: Uint8Array, stable: StableHow, what: string, options: NfsCallOptions = {}): Promise<WriteResult> {
    const args = new XdrWriter().opaque(handle).uint64(offset).uint32(data.length).uint32(stable).opaque(data);
    return decodeWrite(await this.#nfs('WRITE', args, what, options));
  }

  /** COMMIT a range (count 0: to the end of the file); resolves with the write verifier. */
  async commit(handle: Buffer, offset: number, count: number, what: string, options: NfsCallOptions = {}): Promise<Buffer> {
    const args = new XdrWriter().opaque(handle).uint64(offset).uint32(count);
    const reader = await this.#nfs('COMMIT', args, what, options);
    skipWcc(reader);
    return Buffer.from(reader.fixedOpaque(8));
  }

  async read(handle: Buffer, offset: number, count: number, what: string, options: NfsCallOptions = {}): Promise<ReadResult> {
    const args = new XdrWriter().opaque(handle).uint64(offset).uint32(count);
    return decodeRead(await this.#nfs('READ', args, what, options));
  }

  async readdirplus(dir: Buffer, cookie: bigint, cookieVerifier: Buffer, what: string, options: NfsCallOptions = {}): Promise<DirPage> {
    const args = new XdrWriter().opaque(dir).uint64(cookie).fixedOpaque(cookieVerifier, 8).uint32(32 * 1024).uint32(256 * 1024);
    return decodeReaddirPlus(await this.#nfs('READDIRPLUS', args, what, options));
  }

  async remove(dir: Buffer, name: string, what: string, options: NfsCallOptions = {}): Promise<void> {
    await this.#nfs('REMOVE', encodeDirOp(new XdrWriter(), dir, name), what, options);
  }

  async rmdir(dir: Buffer, name: string, what: string, options: NfsCallOptions = {}): Promise<void> {
    await this.#nfs('RMDIR', encodeDirOp(new XdrWriter(), dir, name), what, options);
  }

  async rename(fromDir: Buffer, fromName: string, toDir: Buffer, toName: string, what: string, options: NfsCallOptions = {}): Promise<void> {
    const args = encodeDirOp(encodeDirOp(new XdrWriter(), fromDir, fromName), toDir, toName);
    await this.#nfs('RENAME', args, what, options);
  }

  /** Close the connections; the client is not used afterwards. */
  close(): void {
    for (const rpc of this.#rpcs) rpc.close();
  }

  /** Drop the connections (and forget the ports asked from the portmapper): the next call connects anew. */
  reconnect(reason: string): void {
    for (const rpc of this.#rpcs) rpc.reset(reason);
    if (this.#fromPortmapper) {
      for (const rpc of this.#rpcs) rpc.close();
      this.#rpcs = [];
      this.#ports = undefined;
    }
  }

  async #handleOrLookup(reader: XdrReader, dir: Buffer, name: string, what: string, options: NfsCallOptions): Promise<LookupResult> {
    const handle = decodePostOpHandle(reader);
    // A server may leave the handle out (RFC 1813 allows it): ask for it.
    if (handle !== undefined) return { handle, attributes: decodePostOpAttr(reader) };
    return this.lookup(dir, name, what, options);
  }

  /** One NFS procedure with retries; a status other than NFS3_OK is thrown as `Nfs3Error` (its failure body unread). */
  async #nfs(procedure: NfsProcedure, args: XdrWriter, what: string, options: NfsCallOptions): Promise<XdrReader> {
    const reader = await this.#call('nfs', NFSPROC3[procedure], procedure, args, options, (reply) => {
      const status = reply.uint32();
      if (status !== NFS3_OK) throw new Nfs3Error(status, procedure, this.label, what);
    });
    return reader;
  }

  async #call(
    program: 'nfs' | 'mount',
    procedure: number,
    name: string,
    args: XdrWriter,
    options: NfsCallOptions,
    check?: (reply: XdrReader) => void,
  ): Promise<XdrReader> {
    const { timeoutMs, attempts, backoffMs } = this.#options;
    const callName = `${program === 'nfs' ? 'NFS3' : 'MOUNT3'} ${name}`;
    // The arguments are encoded once; each attempt sends the same pieces.
    const encoded = args.finish();
    return retrying(
      {
        operation: `${this.label}: ${callName}`,
        attempts,
        backoffMs,
        // The RPC layer's own timeout answers first; this one only bounds the connect plus the call.
        timeoutMs: timeoutMs + this.#options.connectTimeoutMs + 1000,
        signal: options.signal,
        isRetryable: isRetryableNfsFailure,
      },
      async (signal) => {
        const clients = await this.#clients(signal);
        const rpc = program === 'nfs' ? clients.nfs : clients.mount;
        const reply = await rpc.call(program === 'nfs' ? NFS_PROGRAM : MOUNT_PROGRAM, program === 'nfs' ? NFS_VERSION : MOUNT_VERSION, procedure, XdrWriter.of(encoded), {
          timeoutMs,
          signal,
          name: callName,
        });
        check?.(reply);
        return reply;
      },
    ).catch((error: unknown) => {
      // A server restarted on other ports: the portmapper is asked again by the next call.
      if (error instanceof RpcConnectionError && error.code === 'ECONNREFUSED' && this.#fromPortmapper) this.reconnect('the server refused the connection');
      throw error;
    });
  }

  #clients(signal: AbortSignal): Promise<{ nfs: RpcClient; mount: RpcClient }> {
    this.#ports ??= this.#resolvePorts(signal).catch((error: unknown) => {
      this.#ports = undefined;
      throw error;
    });
    return this.#ports;
  }

  async #resolvePorts(signal: AbortSignal): Promise<{ nfs: RpcClient; mount: RpcClient }> {
    const { host, auth, connectTimeoutMs, maxRecordBytes } = this.#options;
    let { nfsPort, mountPort } = this.#options;
    if (nfsPort === undefined || mountPort === undefined) {
      const portmapper = new RpcClient({
        host,
        port: this.#options.portmapperPort,
        label: `portmapper ${host}:${this.#options.portmapperPort}`,
        connectTimeoutMs,
        maxRecordBytes: 4096,
      });
      try {
        const ask = async (program: number, version: number, what: string) => {
          const args = new XdrWriter().uint32(program).uint32(version).uint32(IPPROTO_TCP).uint32(0);
          const port = (await portmapper.call(PORTMAP_PROGRAM, PORTMAP_VERSION, PMAPPROC_GETPORT, args, { timeoutMs: this.#options.timeoutMs, signal, name: 'PMAP GETPORT' })).uint32();
          if (port === 0) {
            throw new RpcConnectionError(`portmapper ${host}:${this.#options.portmapperPort} has no ${what} registered over TCP`, 'ECONNREFUSED');
          }
          return port;
        };
        nfsPort ??= await ask(NFS_PROGRAM, NFS_VERSION, 'NFS v3');
        mountPort ??= await ask(MOUNT_PROGRAM, MOUNT_VERSION, 'MOUNT v3');
      } finally {
        portmapper.close();
      }
    }
    const client = (port: number, what: string) =>
      new RpcClient({ host, port, label: `${what} ${host}:${port}`, connectTimeoutMs, maxRecordBytes, auth });
    const clients = { nfs: client(nfsPort, 'NFS server'), mount: client(mountPort, 'MOUNT server') };
    this.#rpcs = [clients.nfs, clients.mount];
    return clients;
  }
}
