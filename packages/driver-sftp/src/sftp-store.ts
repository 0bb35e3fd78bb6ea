/**
 * The SFTP storage driver: objects are files `<path>/<container>/<key>` on an SSH server, over ssh2-sftp-client.
 */
import {
  StorageUnavailableError,
  type CallOptions,
  type DriverCapabilities,
  type DriverContext,
  type ObjectBody,
  type PutBody,
  type PutObjectOptions,
  type StorageDriver,
} from '@stowage/driver-contract';
import {
  BodyLengthError,
  abortedError,
  countedBody,
  missingContainerError,
  objectProbe,
  retrying,
  runSetupProbe,
  setupStepError,
  throwIfCancelled,
  type CallContext,
  type ContainerCheck,
} from '@stowage/driver-utils';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { posix } from 'node:path';
import { Readable } from 'node:stream';
import type SftpClient from 'ssh2-sftp-client';
import type { SftpOptions } from './sftp-config.js';
import { ConnectFailure, isMissingFile, isServerAnswer, toStowageError } from './sftp-errors.js';
import { SftpPool, parsePrivateKey } from './sftp-pool.js';
import { readWhole, writeWhole } from './sftp-transfer.js';

/** Marks an upload's temporary file, `<key>.stowage-tmp-<hex>`, renamed onto `<key>` once complete. */
const TEMP_MARK = '.stowage-tmp-';

export class SftpStore implements StorageDriver {
  readonly driverName = 'sftp';
  readonly defaultContainer: string;
  readonly capabilities: DriverCapabilities;
  readonly #options: SftpOptions;
  readonly #context: DriverContext;
  readonly #pool: SftpPool;
  /** Folders known to exist, so that a put does not ask again; forgotten when a put finds one gone. */
  readonly #folders = new Set<string>();
  #warnedUnverified = false;

  constructor(options: SftpOptions, context: DriverContext) {
    this.#options = options;
    this.#context = context;
    this.defaultContainer = options.container;
    // Objects are read whole into memory (the engine's chunks are a few MiB).
    this.capabilities = { maxObjectSize: 256 * 1024 * 1024, preferredConcurrency: options.pool_size, verifiesPutChecksum: false };
    this.#pool = new SftpPool({
      host: options.host,
      port: options.port,
      username: options.username,
      size: options.pool_size,
      connectTimeoutMs: options.connect_timeout * 1000,
      keepaliveMs: options.keepalive_interval * 1000,
      hostKeyFingerprint: options.host_key_fingerprint,
      credentials: () => this.#credentials(),
      onUnverifiedHostKey: (fingerprint) => {
        if (this.#warnedUnverified) return;
        this.#warnedUnverified = true;
        context.logger?.warn('sftp host key NOT verified (insecure_skip_host_key_check is on): anyone on the path can impersonate the server', {
          backend: context.backendName,
          host: `${options.host}:${options.port}`,
          presentedFingerprint: fingerprint,
        });
      },
    });
  }

  get #backend(): string {
    return this.#context.backendName;
  }

  async doSetup(options?: CallOptions): Promise<void> {
    const signal = options?.signal;
    const prefix = `sftp backend ${this.#backend}: `;
    const details = { backend: this.#backend, container: this.defaultContainer };
    const { host, port, username, path } = this.#options;
    let base: Awaited<ReturnType<SftpClient['exists']>>;
    try {
      base = await this.#run(this.#call(`stat of ${path}`), signal, (client) => client.exists(path));
    } catch (error) {
      const failure = (error as { cause?: unknown }).cause;
      const step = failure instanceof ConnectFailure ? `connecting to ${host}:${port} as ${username}` : `checking the backup path ${path}`;
      throw setupStepError(prefix, step, error, details);
    }
    if (base === false && this.#options.create_path) {
      await this.#run(this.#call(`mkdir of ${path}`), signal, (client) => client.mkdir(path, true)).catch((error: unknown) => {
        throw setupStepError(prefix, `creating the backup path ${path}`, error, details);
      });
    } else if (base !== 'd') {
      const what = base === false ? 'does not exist; create it or set create_path: true' : 'is not a folder; point path at a folder';
      throw setupStepError(prefix, `checking the backup path`, new Error(`${path} on ${host}:${port} ${what}`), details);
    }
    await this.#container(this.defaultContainer, 'setup', signal);
    await runSetupProbe(objectProbe(this, this.defaultContainer), {
      signal,
      onFailure: (step, error) => setupStepError(prefix, `${step} failed (is ${path} writable by ${username}?)`, error, details),
    });
  }

  async checkAvailable(options?: CallOptions): Promise<void> {
    const container = this.defaultContainer;
    if (this.#options.create_container) {
      await this.#run(this.#call(`stat of ${this.#options.path}`), options?.signal, (client) => client.stat(this.#options.path));
    } else await this.#container(container, 'availability', options?.signal);
  }

  async ensureContainer(container: string, options?: CallOptions): Promise<void> {
    await this.#container(container, 'ensure', options?.signal);
  }

  async putObject(container: string, key: string, body: PutBody, options: PutObjectOptions): Promise<void> {
    const { signal, length } = options;
    const path = this.#objectPath(container, key);
    const call = this.#call(`upload of ${container}/${key}`, container, key);
    throwIfCancelled(signal, call.operation, { backend: this.#backend, container, object: key });
    // Bytes at hand can be sent again after a dropped connection; a stream cannot.
    const replayable = body instanceof Uint8Array;
    if (replayable && body.length !== length) {
      throw toStowageError(new BodyLengthError(`body has ${body.length} bytes, ${length} were announced`, body.length, length), call);
    }
    const folder = posix.dirname(path);
    await this.#run(
      call,
      undefined,
      async (client) => {
        if (!this.#folders.has(folder)) {
          await client.mkdir(folder, true);
          // Bounded: one entry per backup folder, so a long-running service forgets old ones now and then.
          if (this.#folders.size >= 10_000) this.#folders.clear();
          this.#folders.add(folder);
        }
        const temp = `${path}${TEMP_MARK}${randomBytes(6).toString('hex')}`;
        let bodyError: unknown;
        const counted = async function* () {
          try {
            yield* countedBody(body, length);
          } catch (error) {
            bodyError = error;
            throw error;
          }
        };
        try {
          if (replayable) await writeWhole(client, temp, body);
          else await client.put(Readable.from(counted()), temp);
          // posix-rename@openssh.com replaces an existing object atomically (plain SFTP rename refuses to).
          await client.posixRename(temp, path);
        } catch (error) {
          if (isMissingFile(error)) this.#folders.delete(folder);
          // Best effort (a dead connection fails at once); what is left is listed, so a backup's delete removes it.
          await client.delete(temp, true).catch(() => undefined);
          throw bodyError ?? error;
        }
      },
      replayable ? this.#options.retry_attempts : 1,
    );
    // The upload was not cut off by the caller's abort, so nothing is committed after the caller's clean-up.
    if (signal?.aborted) throw abortedError(call.operation, signal, { backend: this.#backend, container, object: key });
  }

  async getObject(container: string, key: string, options?: CallOptions): Promise<ObjectBody> {
    const path = this.#objectPath(container, key);
    const { data } = await this.#run(this.#call(`download of ${container}/${key}`, container, key), options?.signal, (client) => readWhole(client, path));
    return Readable.from([data]);
  }

  /** Reads straight into the engine's buffer, several requests in flight: no stream, no copy. */
  async readObjectInto(container: string, key: string, target: Uint8Array, options?: CallOptions): Promise<number> {
    const path = this.#objectPath(container, key);
    const call = this.#call(`download of ${container}/${key}`, container, key);
    const { length } = await this.#run(call, options?.signal, (client) => readWhole(client, path, target));
    return length;
  }

  async deleteObject(container: string, key: string, options?: CallOptions): Promise<void> {
    const path = this.#objectPath(container, key);
    await this.#run(this.#call(`delete of ${container}/${key}`, container, key), options?.signal, (client) => client.delete(path, true));
  }

  /** Interrupted uploads' temporary files are listed too, so that deleting a backup's prefix removes them. */
  async *listObjects(container: string, prefix: string, options?: CallOptions): AsyncIterable<string> {
    const keyFolder = prefix.slice(0, prefix.lastIndexOf('/') + 1);
    const root = this.#containerPath(container);
    const folders = [keyFolder];
    for (let folder = folders.pop(); folder !== undefined; folder = folders.pop()) {
      const path = folder === '' ? root : this.#objectPath(container, folder.slice(0, -1));
      const entries = await this.#run(this.#call(`listing of ${container}/${folder}`, container), options?.signal, (client) =>
        client.list(path).catch((error: unknown) => {
          if (isMissingFile(error)) return [];
          throw error;
        }),
      );
      for (const entry of entries) {
        const key = `${folder}${entry.name}`;
        if (entry.type === 'd' && key.startsWith(prefix)) folders.push(`${key}/`);
        else if (entry.type === '-' && key.startsWith(prefix)) yield key;
      }
    }
  }

  async close(): Promise<void> {
    await this.#pool.close();
  }

  /** Check (and with create_container, create) a container folder, failing as `check` says. */
  async #container(container: string, check: ContainerCheck, signal: AbortSignal | undefined): Promise<void> {
    const path = this.#containerPath(container);
    const found = await this.#run(this.#call(`stat of container ${container}`, container), signal, (client) => client.exists(path));
    if (found === 'd') return;
    if (found === false && this.#options.create_container) {
      await this.#run(this.#call(`mkdir of container ${container}`, container), signal, (client) => client.mkdir(path, true));
      return;
    }
    if (found !== false) throw new StorageUnavailableError(`sftp backend ${this.#backend}: container ${path} is not a folder`, { backend: this.#backend, container });
    throw missingContainerError(check, {
      prefix: `sftp backend ${this.#backend}: `,
      backend: this.#backend,
      container,
      noun: 'container folder',
      option: 'create_container',
      at: `${this.#options.host}:${path}`,
    });
  }

  /** One operation on a pooled connection, under `timeout`, tried again on a fresh connection after a dropped one. */
  #run<T>(call: CallContext, signal: AbortSignal | undefined, operation: (client: SftpClient) => Promise<T>, attempts = this.#options.retry_attempts): Promise<T> {
    return retrying(
      {
        operation: call.operation,
        attempts,
        backoffMs: this.#options.retry_backoff * 1000,
        timeoutMs: this.#options.timeout * 1000,
        signal,
        isRetryable: (error) => !isServerAnswer(error) && !(error instanceof ConnectFailure && error.kind !== 'network'),
      },
      (attemptSignal) => this.#pool.use(attemptSignal, operation),
    ).catch((error: unknown) => {
      if (error instanceof RangeError) throw error;
      throw toStowageError(error, call);
    });
  }

  #call(operation: string, container?: string, object?: string): CallContext {
    return { backend: this.#backend, operation, container, object };
  }

  #containerPath(container: string): string {
    if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(container)) {
      throw new StorageUnavailableError(`sftp backend ${this.#backend}: container name ${JSON.stringify(container)} is not a plain folder name`, {
        backend: this.#backend,
        container,
      });
    }
    return posix.join(this.#options.path, container);
  }

  #objectPath(container: string, key: string): string {
    if (key.split('/').some((segment) => segment === '' || segment === '.' || segment === '..' || segment.includes('\0'))) {
      throw new StorageUnavailableError(`sftp backend ${this.#backend}: object key ${JSON.stringify(key)} has an empty, "." or ".." segment`, {
        backend: this.#backend,
        container,
        object: key,
      });
    }
    return `${this.#containerPath(container)}/${key}`;
  }

  #key: Promise<{ key: Buffer; passphrase: string | undefined }> | undefined;

  /** The private key, read (and parsed, to name a bad key or passphrase) once. */
  #credentials(): Promise<{ key: Buffer; passphrase: string | undefined }> {
    this.#key ??= (async () => {
      const { private_key_path: file, private_key_env: env, passphrase_env } = this.#options;
      const passphrase = passphrase_env === undefined ? undefined : process.env[passphrase_env];
      if (passphrase_env !== undefined && passphrase === undefined) {
        throw new ConnectFailure('private-key', `passphrase_env names ${passphrase_env}, which is not set in the environment`);
      }
      let key: Buffer;
      if (env !== undefined) {
        const text = process.env[env];
        if (text === undefined || text === '') throw new ConnectFailure('private-key', `private_key_env names ${env}, which is not set in the environment`);
        key = Buffer.from(text);
      } else {
        key = await readFile(file ?? '').catch((error: unknown) => {
          throw new ConnectFailure('private-key', `cannot read private_key_path ${file}: ${(error as Error).message}`, { cause: error });
        });
      }
      parsePrivateKey(key, passphrase, env === undefined ? `private_key_path ${file}` : `private_key_env ${env}`);
      return { key, passphrase };
    })();
    // A failure is not kept: the file or the variable may be fixed before the next setup.
    this.#key.catch(() => (this.#key = undefined));
    return this.#key;
  }
}
