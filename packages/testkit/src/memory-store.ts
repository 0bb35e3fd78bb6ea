import {
  AbortedError,
  bodyParts,
  DriverSetupError,
  NotFoundError,
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
    atomicPut: true,
    canCreateContainer: true,
    verifiesPutChecksum: true,
  };
  readonly defaultContainer: string;
  readonly #containers = new Map<string, Map<string, Buffer>>();
  readonly #options: MemoryStoreOptions;
  /** While true every call fails as if the server were down (for fault tests). */
  offline = false;

  constructor(options: MemoryStoreOptions = {}) {
    this.#options = options;
    this.defaultContainer = options.defaultContainer ?? 'backups';
  }

  get #backend(): string {
    return this.#options.backendName ?? 'memory';
  }

  async doSetup(options?: CallOptions): Promise<void> {
    this.#check(options, 'setup');
    if (this.#options.failSetup !== undefined) {
      throw new DriverSetupError(`backend ${this.#backend}: ${this.#options.failSetup}`, { backend: this.#backend });
    }
    await this.ensureContainer(this.defaultContainer, options);
  }

  async checkAvailable(options?: CallOptions): Promise<void> {
    this.#check(options, 'availability check');
  }

  async ensureContainer(container: string, options?: CallOptions): Promise<void> {
    this.#check(options, `ensure container ${container}`);
    if (!this.#containers.has(container)) this.#containers.set(container, new Map());
  }

  async putObject(container: string, key: string, body: PutBody, options: PutObjectOptions): Promise<void> {
    this.#check(options, `put ${container}/${key}`);
    const parts: Buffer[] = [];
    for await (const part of bodyParts(body)) parts.push(Buffer.from(part));
    const data = Buffer.concat(parts);
    if (data.length !== options.length) {
      throw new Error(`backend ${this.#backend}: ${container}/${key} received ${data.length} bytes, expected ${options.length}`);
    }
    if (options.sha256 !== undefined && createHash('sha256').update(data).digest('hex') !== options.sha256) {
      throw new Error(`backend ${this.#backend}: ${container}/${key} body does not match its sha256`);
    }
    this.#check(options, `put ${container}/${key}`);
    let objects = this.#containers.get(container);
    if (objects === undefined) {
      objects = new Map();
      this.#containers.set(container, objects);
    }
    objects.set(key, data);
  }

  async getObject(container: string, key: string, options?: CallOptions): Promise<ObjectBody> {
    this.#check(options, `get ${container}/${key}`);
    const data = this.#containers.get(container)?.get(key);
    if (data === undefined) {
      throw new NotFoundError(`backend ${this.#backend}: object ${container}/${key} does not exist`, {
        backend: this.#backend,
        container,
        object: key,
      });
    }
    return (async function* () {
      yield Buffer.from(data);
    })();
  }

  async deleteObject(container: string, key: string, options?: CallOptions): Promise<void> {
    this.#check(options, `delete ${container}/${key}`);
    this.#containers.get(container)?.delete(key);
  }

  async *listObjects(container: string, prefix: string, options?: CallOptions): AsyncIterable<string> {
    this.#check(options, `list ${container}/${prefix}`);
    for (const key of [...(this.#containers.get(container)?.keys() ?? [])]) {
      if (key.startsWith(prefix)) yield key;
    }
  }

  #check(options: CallOptions | undefined, what: string): void {
    if (options?.signal?.aborted) throw new AbortedError(`${what} on backend ${this.#backend} was cancelled`, { cause: options.signal.reason });
    if (this.offline) {
      throw new StorageUnavailableError(`backend ${this.#backend} is unreachable (${what})`, { backend: this.#backend });
    }
  }
}
