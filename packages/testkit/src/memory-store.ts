import {
  AbortedError,
  bodyParts,
  ChecksumMismatchError,
  DriverSetupError,
  NotFoundError,
  StorageAuthError,
  StorageUnavailableError,
  type CallOptions,
  type DriverCapabilities,
  type ObjectBody,
  type PutBody,
  type PutObjectOptions,
  type StorageDriver,
} from '@stowage/core';
import { createHash } from 'node:crypto';

export interface MemoryStoreOptions {
  readonly backendName?: string;
  readonly defaultContainer?: string;
  /** Make `doSetup` fail with this reason (the contract suite's broken driver). */
  readonly failSetup?: string;
  /** Refuse every call as bad credentials of this identity, e.g. `user nobody` (the fault suite's case). */
  readonly refuseCredentials?: string;
  /** False: containers must exist already (none do in a new store), as with a server whose creation is off. */
  readonly createContainers?: boolean;
  /** Implement the optional `readObjectInto` fast path (off by default, so the engine's stream path is the one tested). */
  readonly fastPath?: boolean;
}

/**
 * The reference store: the smallest complete implementation of the contract, kept in memory. The contract suite
 * tests itself against it, and core's unit tests use it where no real server is needed.
 */
export class MemoryStore implements StorageDriver {
  readonly driverName = 'memory';
  readonly capabilities: DriverCapabilities = {
    maxObjectSize: 1024 * 1024 * 1024,
    preferredConcurrency: 4,
    verifiesPutChecksum: true,
    // Bodies are copied in (Buffer.from), so shared memory is fine, and engine tests run the engine's no-copy path.
    acceptsSharedMemory: true,
  };
  readonly defaultContainer: string;
  readonly #containers = new Map<string, Map<string, Buffer>>();
  readonly #options: MemoryStoreOptions;
  /** While true every call fails as if the server were down (for fault tests). */
  offline = false;

  /** Set only with `fastPath: true`: the contract's optional members are absent, not stubs. */
  readonly readObjectInto?: (container: string, key: string, target: Uint8Array, options?: CallOptions) => Promise<number>;

  constructor(options: MemoryStoreOptions = {}) {
    this.#options = options;
    this.defaultContainer = options.defaultContainer ?? 'backups';
    if (options.fastPath) {
      this.readObjectInto = async (container, key, target, callOptions) => {
        const data = this.#object(container, key, callOptions);
        if (data.length > target.length) throw new RangeError(`object is larger than the ${target.length} bytes expected`);
        target.set(data);
        return data.length;
      };
    }
  }

  get #backend(): string {
    return this.#options.backendName ?? 'memory';
  }

  async doSetup(options?: CallOptions): Promise<void> {
    if (this.#options.failSetup !== undefined) {
      throw new DriverSetupError(`backend ${this.#backend}: ${this.#options.failSetup}`, { backend: this.#backend });
    }
    try {
      this.#check(options, 'setup');
    } catch (error) {
      if (AbortedError.isInstance(error)) throw error;
      const step = StorageAuthError.isInstance(error) ? `authentication as ${this.#options.refuseCredentials} was refused` : 'the store is unreachable';
      throw new DriverSetupError(`backend ${this.#backend}: setup failed: ${step}`, { backend: this.#backend, cause: error });
    }
    if (!this.#containers.has(this.defaultContainer) && this.#options.createContainers === false) {
      throw new DriverSetupError(this.#missingContainer(this.defaultContainer), { backend: this.#backend, container: this.defaultContainer });
    }
    await this.ensureContainer(this.defaultContainer, options);
  }

  async checkAvailable(options?: CallOptions): Promise<void> {
    this.#check(options, 'availability check');
    if (!this.#containers.has(this.defaultContainer) && this.#options.createContainers === false) {
      throw new StorageUnavailableError(this.#missingContainer(this.defaultContainer), { backend: this.#backend, container: this.defaultContainer });
    }
  }

  async ensureContainer(container: string, options?: CallOptions): Promise<void> {
    this.#check(options, `ensure container ${container}`);
    if (this.#containers.has(container)) return;
    if (this.#options.createContainers === false) {
      throw new NotFoundError(this.#missingContainer(container), { backend: this.#backend, container });
    }
    this.#containers.set(container, new Map());
  }

  async putObject(container: string, key: string, body: PutBody, options: PutObjectOptions): Promise<void> {
    this.#check(options, `put ${container}/${key}`, { container, object: key });
    const parts: Buffer[] = [];
    for await (const part of bodyParts(body)) parts.push(Buffer.from(part));
    const data = Buffer.concat(parts);
    if (data.length !== options.length) {
      throw new Error(`backend ${this.#backend}: ${container}/${key} received ${data.length} bytes, expected ${options.length}`);
    }
    if (options.sha256 !== undefined && createHash('sha256').update(data).digest('hex') !== options.sha256) {
      throw new ChecksumMismatchError(`backend ${this.#backend}: ${container}/${key} body does not match its sha256`, {
        backend: this.#backend,
        container,
        object: key,
      });
    }
    this.#check(options, `put ${container}/${key}`, { container, object: key });
    let objects = this.#containers.get(container);
    if (objects === undefined) {
      objects = new Map();
      this.#containers.set(container, objects);
    }
    objects.set(key, data);
  }

  async getObject(container: string, key: string, options?: CallOptions): Promise<ObjectBody> {
    const data = this.#object(container, key, options);
    return (async function* () {
      yield Buffer.from(data);
    })();
  }

  #object(container: string, key: string, options: CallOptions | undefined): Buffer {
    this.#check(options, `get ${container}/${key}`, { container, object: key });
    const data = this.#containers.get(container)?.get(key);
    if (data === undefined) {
      throw new NotFoundError(`backend ${this.#backend}: object ${container}/${key} does not exist`, {
        backend: this.#backend,
        container,
        object: key,
      });
    }
    return data;
  }

  async deleteObject(container: string, key: string, options?: CallOptions): Promise<void> {
    this.#check(options, `delete ${container}/${key}`, { container, object: key });
    this.#containers.get(container)?.delete(key);
  }

  async *listObjects(container: string, prefix: string, options?: CallOptions): AsyncIterable<string> {
    this.#check(options, `list ${container}/${prefix}`);
    for (const key of [...(this.#containers.get(container)?.keys() ?? [])]) {
      if (key.startsWith(prefix)) yield key;
    }
  }

  #check(options: CallOptions | undefined, what: string, where: { container?: string; object?: string } = {}): void {
    const details = { backend: this.#backend, ...where };
    if (options?.signal?.aborted) throw new AbortedError(`${what} on backend ${this.#backend} was cancelled`, { ...details, cause: options.signal.reason });
    if (this.offline) throw new StorageUnavailableError(`backend ${this.#backend} is unreachable (${what})`, details);
    if (this.#options.refuseCredentials !== undefined) throw this.#authError(what, details);
  }

  #authError(what: string, details: { backend: string; container?: string; object?: string }): StorageAuthError {
    return new StorageAuthError(`backend ${this.#backend}: ${what} refused: bad credentials for ${this.#options.refuseCredentials}`, details);
  }

  #missingContainer(container: string): string {
    return `backend ${this.#backend}: container ${container} does not exist and createContainers is false; create it first`;
  }
}
