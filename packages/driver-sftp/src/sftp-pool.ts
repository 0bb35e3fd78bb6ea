/**
 * A few SSH connections, each running one operation at a time, reused across operations. A connection whose
 * operation failed without an SFTP answer (reset, closed, timed out) is dropped and replaced on the next use, which
 * is how the driver gets through a server restart.
 */
import { createHash } from 'node:crypto';
import SftpClient from 'ssh2-sftp-client';
import ssh2 from 'ssh2';
import { ConnectFailure, isServerAnswer } from './sftp-errors.js';

export interface PoolSettings {
  readonly host: string;
  readonly port: number;
  readonly username: string;
  readonly size: number;
  readonly connectTimeoutMs: number;
  readonly keepaliveMs: number;
  /** `SHA256:...`, or undefined to accept any key (the caller warned). */
  readonly hostKeyFingerprint: string | undefined;
  /** The private key text and its passphrase; throws a `ConnectFailure` of kind `private-key`. */
  readonly credentials: () => Promise<{ key: Buffer; passphrase: string | undefined }>;
  /** Told the fingerprint of every host key accepted without a pin. */
  readonly onUnverifiedHostKey: (fingerprint: string) => void;
}

interface Connection {
  readonly client: SftpClient;
  broken: boolean;
}

/** The ssh2 connection under the SFTP client (the library's typings leave it out). */
function sshOf(client: SftpClient): ssh2.Client {
  return (client as unknown as { client: ssh2.Client }).client;
}

/** `SHA256:<base64 without padding>` of a raw public key blob, as OpenSSH prints fingerprints. */
export function fingerprintOf(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

export class SftpPool {
  readonly #settings: PoolSettings;
  readonly #idle: Connection[] = [];
  /** Callers waiting for a connection: given one that is idle, or `undefined` to open a new one. */
  readonly #waiting: Array<(connection: Connection | undefined) => void> = [];
  #open = 0;

  constructor(settings: PoolSettings) {
    this.#settings = settings;
  }

  /** Run `operation` on a pooled connection; `signal` (the attempt's timeout, the caller's abort) drops it. */
  async use<T>(signal: AbortSignal, operation: (client: SftpClient) => Promise<T>): Promise<T> {
    let connection: Connection | undefined;
    try {
      connection = await this.#acquire(signal);
      const current = connection;
      return await untilAborted(signal, operation(current.client), () => this.#drop(current));
    } catch (error) {
      if (connection !== undefined && !isServerAnswer(error)) connection.broken = true;
      throw error;
    } finally {
      if (connection !== undefined) this.#release(connection);
    }
  }

  async close(): Promise<void> {
    const idle = this.#idle.splice(0);
    await Promise.all(idle.map((connection) => connection.client.end().catch(() => undefined)));
  }

  async #acquire(signal: AbortSignal): Promise<Connection> {
    let connection = this.#takeIdle();
    if (connection === undefined && this.#open >= this.#settings.size) {
      connection = await new Promise<Connection | undefined>((resolve, reject) => {
        const waiter = (given: Connection | undefined) => {
          signal.removeEventListener('abort', onAbort);
          resolve(given);
        };
        const onAbort = () => {
          this.#waiting.splice(this.#waiting.indexOf(waiter) >>> 0, 1);
          reject(signal.reason);
        };
        signal.addEventListener('abort', onAbort, { once: true });
        this.#waiting.push(waiter);
      });
    } else if (connection === undefined) this.#open += 1;
    if (connection !== undefined) return connection;
    try {
      return await this.#connect(signal);
    } catch (error) {
      this.#handBack(undefined);
      throw error;
    }
  }

  /** An idle connection still open; those closed meanwhile (a server restart, keepalives unanswered) are let go. */
  #takeIdle(): Connection | undefined {
    for (let connection = this.#idle.pop(); connection !== undefined; connection = this.#idle.pop()) {
      if (!connection.broken) return connection;
      this.#drop(connection);
      this.#open -= 1;
    }
    return undefined;
  }

  #release(connection: Connection): void {
    if (connection.broken) {
      this.#drop(connection);
      this.#handBack(undefined);
    } else this.#handBack(connection);
  }

  /** Give a connection (or the slot of a dropped one) to the next waiter, else keep it. */
  #handBack(connection: Connection | undefined): void {
    const waiter = this.#waiting.shift();
    if (waiter !== undefined) waiter(connection);
    else if (connection !== undefined) this.#idle.push(connection);
    else this.#open -= 1;
  }

  #drop(connection: Connection): void {
    connection.broken = true;
    sshOf(connection.client).destroy();
  }

  async #connect(signal: AbortSignal): Promise<Connection> {
    const { host, port, username, hostKeyFingerprint } = this.#settings;
    const { key, passphrase } = await this.#settings.credentials();
    // The library's default global listeners print every event to the console.
    const client = new SftpClient('stowage', { error: () => undefined, end: () => undefined, close: () => undefined });
    const connection: Connection = { client, broken: false };
    let rawError: (Error & { level?: string }) | undefined;
    let presented: string | undefined;
    client.on('error', (error: Error) => (rawError = error));
    sshOf(client).on('close', () => (connection.broken = true));
    try {
      const connecting = client.connect({
        host,
        port,
        username,
        privateKey: key,
        ...(passphrase === undefined ? {} : { passphrase }),
        readyTimeout: this.#settings.connectTimeoutMs,
        keepaliveInterval: this.#settings.keepaliveMs,
        keepaliveCountMax: 3,
        hostVerifier: (blob: Buffer) => {
          presented = fingerprintOf(blob);
          if (hostKeyFingerprint === undefined) this.#settings.onUnverifiedHostKey(presented);
          return hostKeyFingerprint === undefined || presented === hostKeyFingerprint;
        },
      });
      await untilAborted(signal, connecting, () => sshOf(client).destroy());
    } catch (error) {
      sshOf(client).destroy();
      const where = `${username}@${host}:${port}`;
      if (signal.aborted) throw signal.reason;
      if (presented !== undefined && hostKeyFingerprint !== undefined && presented !== hostKeyFingerprint) {
        throw new ConnectFailure(
          'host-key',
          `host key verification of ${host}:${port} failed: the server presented ${presented}, host_key_fingerprint is ${hostKeyFingerprint}; if the server's key really changed, update host_key_fingerprint`,
          { cause: error },
        );
      }
      const level = rawError?.level;
      if (level === 'client-authentication') {
        throw new ConnectFailure('authentication', `authentication as ${where} failed: the server refused the private key; check the key and the server's authorized_keys`, { cause: error });
      }
      if (level === 'client-timeout') {
        throw new ConnectFailure('timeout', `no answer from ${host}:${port} within connect_timeout ${this.#settings.connectTimeoutMs / 1000} s`, { cause: error });
      }
      throw new ConnectFailure('network', `cannot connect to ${where} (${(rawError ?? (error as Error)).message})`, { cause: rawError ?? error });
    }
    // Nagle plus delayed ACKs cost ~40 ms per 64 KiB write: a 20 MiB put took 11 s instead of 0.1 s (TEST-SERVERS.md).
    sshOf(client).setNoDelay(true);
    return connection;
  }
}

/** Parse a private key once, so that a bad key or passphrase is named as such rather than as a failed login. */
export function parsePrivateKey(key: Buffer, passphrase: string | undefined, source: string): void {
  const parsed = ssh2.utils.parseKey(key, passphrase);
  if (parsed instanceof Error) {
    throw new ConnectFailure('private-key', `cannot use the private key from ${source}: ${parsed.message}`, { cause: parsed });
  }
}

/** `work`, rejected with the signal's reason as soon as `signal` aborts (after `onAbort` ran). */
function untilAborted<T>(signal: AbortSignal, work: Promise<T>, onAbort?: () => void): Promise<T> {
  if (signal.aborted) {
    onAbort?.();
    work.catch(() => undefined);
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const abort = () => {
      onAbort?.();
      reject(signal.reason);
    };
    signal.addEventListener('abort', abort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', abort));
  });
}
