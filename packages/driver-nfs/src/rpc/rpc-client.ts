/**
 * An ONC-RPC v2 (RFC 5531) client over one TCP connection: XIDs, replies matched to calls in any order (many calls
 * may be outstanding), a timeout per call, AUTH_NONE or AUTH_SYS credentials, multi-fragment records both ways, and
 * a connection that is re-established by the next call once it dropped.
 */
import { randomInt } from 'node:crypto';
import { Socket } from 'node:net';
import { frameRecord, RecordDecoder } from './record-marking.js';
import { XdrReader, XdrWriter } from './xdr.js';

const RPC_VERSION = 2;
const MSG_CALL = 0;
const MSG_REPLY = 1;
const AUTH_NONE = 0;
const AUTH_SYS = 1;

/** AUTH_SYS (RFC 5531 appendix A): the identity the server checks file permissions against. */
export interface AuthSys {
  readonly uid: number;
  readonly gid: number;
  /** Supplementary groups (at most 16). */
  readonly gids?: readonly number[] | undefined;
  /** Sent as the credential's machine name; servers log it. */
  readonly machineName?: string | undefined;
}

export interface RpcClientOptions {
  readonly host: string;
  readonly port: number;
  /** How the server is named in messages, e.g. `NFS server 127.0.0.1:2049`. */
  readonly label: string;
  readonly connectTimeoutMs: number;
  /** Largest reply accepted (a READ of rtmax bytes plus headers). */
  readonly maxRecordBytes: number;
  /** AUTH_SYS identity, or `undefined` for AUTH_NONE. */
  readonly auth?: AuthSys | undefined;
  /** Largest fragment sent; records above it go out in several fragments. */
  readonly maxFragmentBytes?: number | undefined;
}

export interface CallOptions {
  /** Give up on this call after this long (the connection is dropped too if it has gone quiet). */
  readonly timeoutMs: number;
  readonly signal?: AbortSignal | undefined;
  /** Names the procedure in messages, e.g. `NFS3 WRITE`. */
  readonly name: string;
}

/** Base of the RPC layer's failures. `code` is a Node-style code where one applies (ECONNREFUSED, ETIMEDOUT). */
export class RpcError extends Error {
  override readonly name: string = 'RpcError';
  readonly code: string;
  constructor(message: string, code: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

/** The connection could not be made or dropped while calls were outstanding. */
export class RpcConnectionError extends RpcError {
  override readonly name = 'RpcConnectionError';
}

/** No reply within the call's timeout (or no connection within the connect timeout). */
export class RpcTimeoutError extends RpcError {
  override readonly name = 'RpcTimeoutError';
}

/** The server answered, but refused the call at the RPC level (wrong program or version, auth error, garbage). */
export class RpcRejectedError extends RpcError {
  override readonly name = 'RpcRejectedError';
}

/** The call was cancelled through its signal (the platform's AbortError shape, recognised by driver-utils). */
export class RpcAbortError extends Error {
  override readonly name = 'AbortError';
}

const ACCEPT_STATUS = ['SUCCESS', 'PROG_UNAVAIL', 'PROG_MISMATCH', 'PROC_UNAVAIL', 'GARBAGE_ARGS', 'SYSTEM_ERR'];
const AUTH_STATUS = ['AUTH_OK', 'AUTH_BADCRED', 'AUTH_REJECTEDCRED', 'AUTH_BADVERF', 'AUTH_REJECTEDVERF', 'AUTH_TOOWEAK', 'AUTH_INVALIDRESP', 'AUTH_FAILED'];

interface Pending {
  readonly name: string;
  readonly resolve: (reply: XdrReader) => void;
  readonly reject: (error: Error) => void;
  timer: NodeJS.Timeout | undefined;
  sentAt: number;
}

interface Connection {
  readonly socket: Socket;
  readonly ready: Promise<void>;
  lastReceiveAt: number;
}

export class RpcClient {
  readonly #options: RpcClientOptions;
  readonly #pending = new Map<number, Pending>();
  readonly #credential: Buffer;
  #xid = randomInt(0, 0x7fffffff);
  #connection: Connection | undefined;
  #closed = false;

  constructor(options: RpcClientOptions) {
    this.#options = options;
    this.#credential = encodeCredential(options.auth);
  }

  get label(): string {
    return this.#options.label;
  }

  /** Calls still waiting for their reply (for tests). */
  get outstanding(): number {
    return this.#pending.size;
  }

  /**
   * Send one call; resolves with a reader positioned at the procedure's results. `args` may reference large
   * buffers (WRITE data): they are sent without copying and must not change until the promise settles.
   */
  async call(program: number, version: number, procedure: number, args: XdrWriter | undefined, options: CallOptions): Promise<XdrReader> {
    if (this.#closed) throw new RpcConnectionError(`${this.#options.label}: the client was closed`, 'ERR_CLIENT_CLOSED');
    if (options.signal?.aborted) throw new RpcAbortError(`${options.name} was cancelled`, { cause: options.signal.reason });
    const xid = this.#nextXid();
    const header = new XdrWriter()
      .uint32(xid)
      .uint32(MSG_CALL)
      .uint32(RPC_VERSION)
      .uint32(program)
      .uint32(version)
      .uint32(procedure);
    const head = header.toBuffer();
    const body = args?.finish() ?? { pieces: [], length: 0 };
    const pieces = [head, this.#credential, ...body.pieces];
    const length = head.length + this.#credential.length + body.length;
    const frames = frameRecord(pieces, length, this.#options.maxFragmentBytes);

    return new Promise<XdrReader>((resolve, reject) => {
      const onAbort = () => {
        if (!this.#pending.delete(xid)) return;
        clearTimeout(entry.timer);
        reject(new RpcAbortError(`${options.name} was cancelled`, { cause: options.signal?.reason }));
      };
      const settle = <T>(fn: (value: T) => void) => (value: T) => {
        options.signal?.removeEventListener('abort', onAbort);
        fn(value);
      };
      const entry: Pending = { name: options.name, resolve: settle(resolve), reject: settle(reject), timer: undefined, sentAt: Date.now() };
      this.#pending.set(xid, entry);
      options.signal?.addEventListener('abort', onAbort, { once: true });
      entry.timer = setTimeout(() => this.#timedOut(xid, options), options.timeoutMs);
      this.#send(frames).catch((error: unknown) => {
        if (!this.#pending.delete(xid)) return;
        clearTimeout(entry.timer);
        entry.reject(error as Error);
      });
    });
  }

  /** Drop the connection; outstanding calls fail. Later calls reconnect unless `close` was called. */
  reset(reason: string): void {
    const connection = this.#connection;
    this.#connection = undefined;
    connection?.socket.destroy();
    this.#failAll(new RpcConnectionError(`${this.#options.label}: ${reason}`, 'ECONNRESET'));
  }

  close(): void {
    this.#closed = true;
    this.reset('the client was closed');
  }

  #nextXid(): number {
    this.#xid = (this.#xid + 1) >>> 0;
    return this.#xid;
  }

  async #send(frames: Buffer[]): Promise<void> {
    const connection = this.#connection ?? this.#connect();
    await connection.ready;
    if (this.#connection !== connection) throw new RpcConnectionError(`${this.#options.label}: the connection dropped`, 'ECONNRESET');
    const { socket } = connection;
    socket.cork();
    for (const frame of frames) socket.write(frame);
    socket.uncork();
  }

  #connect(): Connection {
    const { host, port, label, connectTimeoutMs } = this.#options;
    const socket = new Socket();
    socket.setNoDelay(true);
    const decoder = new RecordDecoder((record) => this.#onRecord(record), this.#options.maxRecordBytes);
    let connection!: Connection;
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new RpcTimeoutError(`${label}: no connection within ${connectTimeoutMs / 1000} s`, 'ETIMEDOUT'));
      }, connectTimeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.setKeepAlive(true, 10_000);
        resolve();
      });
      socket.once('error', (error: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(new RpcConnectionError(`${label}: ${error.message}`, error.code ?? 'ECONNRESET', { cause: error }));
      });
    });
    // Rejections reach callers through `#send`; this one only keeps an unobserved failure from being reported.
    ready.catch(() => undefined);
    socket.on('data', (chunk: Buffer) => {
      connection.lastReceiveAt = Date.now();
      try {
        decoder.push(chunk);
      } catch (error) {
        this.#drop(connection, new RpcConnectionError(`${label}: ${(error as Error).message}`, 'EPROTO', { cause: error }));
      }
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      this.#drop(connection, new RpcConnectionError(`${label}: ${error.message}`, error.code ?? 'ECONNRESET', { cause: error }));
    });
    socket.on('close', () => {
      this.#drop(connection, new RpcConnectionError(`${label}: the server closed the connection`, 'ECONNRESET'));
    });
    // Nothing received yet: a call that times out on a connection that never answered drops it.
    connection = { socket, ready, lastReceiveAt: 0 };
    this.#connection = connection;
    socket.connect(port, host);
    return connection;
  }

  #drop(connection: Connection, error: RpcError): void {
    if (this.#connection !== connection) return;
    this.#connection = undefined;
    connection.socket.destroy();
    this.#failAll(error);
  }

  #failAll(error: Error): void {
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const entry of pending) {
      clearTimeout(entry.timer);
      entry.reject(error);
    }
  }

  #timedOut(xid: number, options: CallOptions): void {
    const entry = this.#pending.get(xid);
    if (entry === undefined) return;
    this.#pending.delete(xid);
    entry.reject(new RpcTimeoutError(`${this.#options.label}: no answer to ${options.name} within ${options.timeoutMs / 1000} s`, 'ETIMEDOUT'));
    // A connection that has said nothing since the call was sent is dead or hung: the next call gets a new one.
    const connection = this.#connection;
    if (connection !== undefined && connection.lastReceiveAt < entry.sentAt) {
      this.#drop(
        connection,
        new RpcTimeoutError(`${this.#options.label}: the connection went silent (no answer to ${options.name} within ${options.timeoutMs / 1000} s): dropped`, 'ETIMEDOUT'),
      );
    }
  }

  #onRecord(record: Buffer): void {
    const reader = new XdrReader(record);
    let entry: Pending | undefined;
    try {
      const xid = reader.uint32();
      entry = this.#pending.get(xid);
      // A late reply to a call that timed out or was cancelled.
      if (entry === undefined) return;
      this.#pending.delete(xid);
      clearTimeout(entry.timer);
      if (reader.uint32() !== MSG_REPLY) throw new RpcRejectedError(`${this.#options.label}: ${entry.name}: the reply is not an RPC reply`, 'EPROTO');
      const replyStat = reader.uint32();
      if (replyStat === 0) {
        reader.uint32(); // verifier flavour
        reader.opaque(400);
        const acceptStat = reader.uint32();
        if (acceptStat === 0) {
          entry.resolve(reader);
          return;
        }
        const status = ACCEPT_STATUS[acceptStat] ?? `accept_stat ${acceptStat}`;
        const range = acceptStat === 2 ? ` (server supports versions ${reader.uint32()}-${reader.uint32()})` : '';
        throw new RpcRejectedError(`${this.#options.label}: ${entry.name}: the server answered ${status}${range}`, `RPC_${status}`);
      }
      const rejectStat = reader.uint32();
      if (rejectStat === 1) {
        const authStat = reader.uint32();
        const status = AUTH_STATUS[authStat] ?? `auth_stat ${authStat}`;
        throw new RpcRejectedError(`${this.#options.label}: ${entry.name}: the server refused the credentials (${status})`, 'RPC_AUTH_ERROR');
      }
      throw new RpcRejectedError(`${this.#options.label}: ${entry.name}: the server does not speak RPC version 2`, 'RPC_MISMATCH');
    } catch (error) {
      entry?.reject(error as Error);
    }
  }
}

function encodeCredential(auth: AuthSys | undefined): Buffer {
  const writer = new XdrWriter();
  if (auth === undefined) {
    writer.uint32(AUTH_NONE).uint32(0);
  } else {
    const gids = auth.gids ?? [];
    if (gids.length > 16) throw new RangeError('AUTH_SYS carries at most 16 supplementary groups');
    const body = new XdrWriter().uint32(Math.floor(Date.now() / 1000) >>> 0).string((auth.machineName ?? 'stowage').slice(0, 255)).uint32(auth.uid).uint32(auth.gid).uint32(gids.length);
    for (const gid of gids) body.uint32(gid);
    writer.uint32(AUTH_SYS).opaque(body.toBuffer());
  }
  // The call's verifier: AUTH_NONE.
  writer.uint32(AUTH_NONE).uint32(0);
  return writer.toBuffer();
}
