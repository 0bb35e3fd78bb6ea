/**
 * stowage-driver-example: an out-of-tree driver for the `stowage.driver/v1` contract, published nowhere.
 * It keeps each object as a file under `root/<container>/<key>`. Besides being a template for third-party
 * drivers it lets tests misbehave on purpose: `setup_delay_ms` slows `doSetup`, `hang_setup` makes it never
 * finish (to exercise `backup_initialization_timeout`), `fail_setup_while_exists` fails setup while a
 * marker file exists (storage "down" that a test can bring back), and `object_delay_ms` makes every object put,
 * get and delete take that long (an operation a test can interrupt half way).
 */
import { createReadStream } from 'node:fs';
import { access, mkdir, readFile, readdir, rm, stat, writeFile, rename } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import {
  DRIVER_CONTRACT_V1,
  DriverSetupError,
  NotFoundError,
  StorageUnavailableError,
  defineDriverPlugin,
  type CallOptions,
  type DriverContext,
  type ObjectBody,
  type OptionsSchema,
  type PutBody,
  type PutObjectOptions,
  type StandardIssue,
  type StorageDriver,
} from '@stowage/driver-contract';
import { countedBody, runSetupProbe, type ProbeAccess } from '@stowage/driver-utils';

export interface ExampleOptions {
  /** Folder holding the containers; created by doSetup when missing. */
  readonly root: string;
  readonly container: string;
  readonly setup_delay_ms: number;
  readonly hang_setup: boolean;
  readonly fail_setup_while_exists: string | undefined;
  readonly object_delay_ms: number;
}

/** A hand-written Standard Schema validator: third-party drivers need no validation library. */
const optionsSchema: OptionsSchema<ExampleOptions> = {
  '~standard': {
    version: 1,
    vendor: 'stowage-driver-example',
    validate(value: unknown) {
      const issues: StandardIssue[] = [];
      const input = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
      if (typeof value !== 'object' || value === null) issues.push({ message: 'options must be a mapping', path: [] });
      const known = new Set(['root', 'container', 'setup_delay_ms', 'hang_setup', 'fail_setup_while_exists', 'object_delay_ms']);
      for (const key of Object.keys(input)) {
        if (!known.has(key)) issues.push({ message: `unknown option; known options: ${[...known].join(', ')}`, path: [key] });
      }
      if (typeof input.root !== 'string' || input.root === '') {
        issues.push({ message: 'required: the folder to keep objects in (a non-empty string)', path: ['root'] });
      }
      if (input.container !== undefined && (typeof input.container !== 'string' || !/^[\w.-]+$/.test(input.container))) {
        issues.push({ message: 'must be a name of letters, digits, "_", "." or "-"', path: ['container'] });
      }
      const delay = input.setup_delay_ms ?? 0;
      if (typeof delay !== 'number' || !Number.isSafeInteger(delay) || delay < 0) {
        issues.push({ message: 'must be an integer >= 0 (milliseconds)', path: ['setup_delay_ms'] });
      }
      const objectDelay = input.object_delay_ms ?? 0;
      if (typeof objectDelay !== 'number' || !Number.isSafeInteger(objectDelay) || objectDelay < 0) {
        issues.push({ message: 'must be an integer >= 0 (milliseconds)', path: ['object_delay_ms'] });
      }
      if (input.hang_setup !== undefined && typeof input.hang_setup !== 'boolean') {
        issues.push({ message: 'must be true or false', path: ['hang_setup'] });
      }
      const marker = input.fail_setup_while_exists;
      if (marker !== undefined && typeof marker !== 'string') {
        issues.push({ message: 'must be a file path', path: ['fail_setup_while_exists'] });
      }
      if (issues.length > 0) return { issues };
      return {
        value: {
          root: input.root as string,
          container: (input.container as string | undefined) ?? 'backups',
          setup_delay_ms: delay as number,
          hang_setup: (input.hang_setup as boolean | undefined) ?? false,
          fail_setup_while_exists: marker as string | undefined,
          object_delay_ms: objectDelay as number,
        },
      };
    },
  },
};

const plugin = defineDriverPlugin<ExampleOptions>({
  contract: DRIVER_CONTRACT_V1,
  name: 'example',
  version: '0.1.0',
  optionsSchema,
  create: (options, context) => new ExampleFolderStore(options, context),
});
export default plugin;

class ExampleFolderStore implements StorageDriver {
  readonly driverName = 'example';
  readonly capabilities = {
    maxObjectSize: 64 * 1024 * 1024,
    preferredConcurrency: 2,
    verifiesPutChecksum: false,
  };
  readonly defaultContainer: string;
  readonly #options: ExampleOptions;
  readonly #backend: string;

  constructor(options: ExampleOptions, context: DriverContext) {
    this.#options = options;
    this.#backend = context.backendName;
    this.defaultContainer = options.container;
  }

  async doSetup(options?: CallOptions): Promise<void> {
    if (this.#options.hang_setup) {
      // Deliberately ignores its AbortSignal: the manager must cut it off on its own.
      await new Promise<never>(() => undefined);
    }
    if (this.#options.setup_delay_ms > 0) await delay(this.#options.setup_delay_ms, options?.signal);
    const marker = this.#options.fail_setup_while_exists;
    if (marker !== undefined && (await exists(marker))) {
      throw new DriverSetupError(`backend ${this.#backend}: storage is down while ${marker} exists`, { backend: this.#backend });
    }
    const cannotWrite = (cause: unknown) =>
      new DriverSetupError(`backend ${this.#backend}: cannot write to ${this.#options.root}: ${(cause as Error).message}`, {
        cause,
        backend: this.#backend,
      });
    const folder = join(this.#options.root, this.defaultContainer);
    await mkdir(folder, { recursive: true }).catch((cause: unknown) => {
      throw cannotWrite(cause);
    });
    // Write, read back and delete a probe file: driver-utils' probe, here below the container's folder.
    const probe: ProbeAccess = {
      describe: (name) => join(folder, name),
      write: (name, data) => writeFile(join(folder, name), data),
      read: (name) => readFile(join(folder, name)),
      remove: (name) => rm(join(folder, name)),
    };
    await runSetupProbe(probe, { signal: options?.signal, keyPrefix: '.probe-', onFailure: (_step, cause) => cannotWrite(cause) });
  }

  async checkAvailable(): Promise<void> {
    const marker = this.#options.fail_setup_while_exists;
    if (marker !== undefined && (await exists(marker))) {
      throw new StorageUnavailableError(`backend ${this.#backend}: storage is down while ${marker} exists`, { backend: this.#backend });
    }
    try {
      const info = await stat(this.#options.root);
      if (!info.isDirectory()) throw new Error(`${this.#options.root} is not a directory`);
    } catch (cause) {
      throw new StorageUnavailableError(`backend ${this.#backend}: ${this.#options.root} is unusable`, { cause, backend: this.#backend });
    }
  }

  async ensureContainer(container: string): Promise<void> {
    await mkdir(this.#path(container, ''), { recursive: true });
  }

  async putObject(container: string, key: string, body: PutBody, options: PutObjectOptions): Promise<void> {
    await this.#objectDelay(options.signal);
    const target = this.#path(container, key);
    await mkdir(dirname(target), { recursive: true });
    const temporary = `${target}.part-${process.pid}`;
    const parts: Uint8Array[] = [];
    // The body must yield exactly the announced length: a short one would be stored as a truncated object.
    for await (const part of countedBody(body, options.length)) parts.push(part);
    await writeFile(temporary, parts);
    await rename(temporary, target);
  }

  async getObject(container: string, key: string, options?: CallOptions): Promise<ObjectBody> {
    await this.#objectDelay(options?.signal);
    const path = this.#path(container, key);
    if (!(await exists(path))) {
      throw new NotFoundError(`backend ${this.#backend}: object ${container}/${key} not found`, {
        backend: this.#backend,
        container,
        object: key,
      });
    }
    return createReadStream(path);
  }

  async deleteObject(container: string, key: string, options?: CallOptions): Promise<void> {
    await this.#objectDelay(options?.signal);
    await rm(this.#path(container, key), { force: true });
  }

  async *listObjects(container: string, prefix: string): AsyncIterable<string> {
    const root = this.#path(container, '');
    if (!(await exists(root))) return;
    for (const entry of await readdir(root, { recursive: true, withFileTypes: true })) {
      if (!entry.isFile()) continue;
      const key = relative(root, join(entry.parentPath, entry.name)).split(sep).join('/');
      if (key.startsWith(prefix) && !key.includes('.part-')) yield key;
    }
  }

  async #objectDelay(signal: AbortSignal | undefined): Promise<void> {
    if (this.#options.object_delay_ms > 0) await delay(this.#options.object_delay_ms, signal);
  }

  #path(container: string, key: string): string {
    if (key.split('/').includes('..') || container.includes('/') || container.includes('..')) {
      throw new NotFoundError(`backend ${this.#backend}: refusing unsafe object name ${container}/${key}`);
    }
    return join(this.#options.root, container, ...key.split('/'));
  }
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

function delay(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(signal.reason);
      },
      { once: true },
    );
  });
}
