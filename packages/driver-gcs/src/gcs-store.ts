/**
 * The Google Cloud Storage driver, over @google-cloud/storage. Every object goes up in one request (a multipart
 * upload, never a resumable one in chunks) with its MD5 or CRC32C for the service to verify; the driver retries
 * single requests itself (the library's own retries are off) with `retrying` from driver-utils.
 */
import { CRC32C, Storage, type File, type FileMetadata, type StorageOptions } from '@google-cloud/storage';
import {
  ChecksumMismatchError,
  StorageAuthError,
  StowageError,
  describeError,
  type CallOptions,
  type DriverCapabilities,
  type DriverContext,
  type ObjectBody,
  type PutBody,
  type PutObjectOptions,
  type StorageDriver,
} from '@stowage/driver-contract';
import {
  AttemptTimeoutError,
  abortedError,
  collectBody,
  errorDetails,
  idleTimer,
  missingContainerError,
  objectProbe,
  retrying,
  runSetupProbe,
  setupStepError,
  throwIfCancelled,
  whenAborted,
  type ContainerCheck,
} from '@stowage/driver-utils';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { GcsOptions } from './gcs-config.js';
import { isMissing, isRetryable, toStowageError, type GcsCallContext } from './gcs-errors.js';

const LIST_PAGE = 1000;

export class GcsStore implements StorageDriver {
  readonly driverName = 'gcs';
  readonly capabilities: DriverCapabilities;
  readonly defaultContainer: string;
  /** The library's client, for tools and tests (raw transfers next to the driver's). */
  readonly storage: Storage;
  readonly #options: GcsOptions;
  readonly #context: DriverContext;
  #account: string;

  constructor(options: GcsOptions, context: DriverContext) {
    this.#options = options;
    this.#context = context;
    this.defaultContainer = options.bucket;
    this.capabilities = {
      maxObjectSize: options.max_object_size,
      preferredConcurrency: options.concurrency,
      // The engine's sha256 is checked against the bytes before they are sent; the MD5/CRC32C covers the wire.
      verifiesPutChecksum: true,
    };
    this.storage = new Storage(storageOptions(options));
    this.#account = options.anonymous
      ? 'anonymous (no credentials)'
      : options.credentials_file === undefined
        ? 'the application default credentials'
        : `the service account of ${options.credentials_file}`;
  }

  get #backend(): string {
    return this.#context.backendName;
  }

  get #endpoint(): string {
    return this.#options.api_endpoint ?? 'https://storage.googleapis.com';
  }

  async doSetup(options?: CallOptions): Promise<void> {
    const signal = options?.signal;
    const bucket = this.defaultContainer;
    const prefix = `gcs backend ${this.#backend}: `;
    const setupError = (step: string, error: unknown) => setupStepError(prefix, step, error, { backend: this.#backend, container: bucket });

    // 1. Who we are: the key file is read here, so that a missing one names the option, not a library internal.
    try {
      await this.#loadAccount();
    } catch (error) {
      throw setupError(`reading credentials_file ${this.#options.credentials_file} failed (it must be a service-account key in JSON)`, error);
    }
    // 2. The bucket is reachable and listable as this account (one object listed; no bucket-level permission needed).
    let exists: boolean;
    try {
      exists = await this.#bucketExists(bucket, signal);
    } catch (error) {
      if (StorageAuthError.isInstance(error)) throw setupError(`authentication as ${this.#account} at ${this.#endpoint} failed`, error);
      throw setupError(`listing bucket ${bucket} at ${this.#endpoint} failed`, error);
    }
    if (!exists) {
      if (!this.#options.create_bucket) throw this.#missingBucket('setup', bucket);
      try {
        await this.#createBucket(bucket, signal);
      } catch (error) {
        throw setupError(`creating bucket ${bucket} failed`, error);
      }
    }
    // 3. Writable, readable and deletable: a probe object written, read back and deleted.
    await runSetupProbe(objectProbe(this, bucket), {
      signal,
      onFailure: (step, error) => {
        if (StorageAuthError.isInstance(error)) return setupError(`${step} as ${this.#account} failed (authentication or permission)`, error);
        return setupError(`${step} failed (is the bucket writable?)`, error);
      },
    });
  }

  async checkAvailable(options?: CallOptions): Promise<void> {
    const bucket = this.defaultContainer;
    const exists = await this.#bucketExists(bucket, options?.signal);
    // A bucket we may not create makes the backend unusable until someone creates it.
    if (!exists && !this.#options.create_bucket) throw this.#missingBucket('availability', bucket);
  }

  async ensureContainer(container: string, options?: CallOptions): Promise<void> {
    if (await this.#bucketExists(container, options?.signal)) return;
    if (!this.#options.create_bucket) throw this.#missingBucket('ensure', container);
    await this.#createBucket(container, options?.signal);
  }

  async putObject(container: string, key: string, body: PutBody, options: PutObjectOptions): Promise<void> {
    const context = this.#call(`upload of ${container}/${key}`, container, key);
    const where = `gcs backend ${this.#backend}: ${context.operation}`;
    throwIfCancelled(options.signal, where, errorDetails(context));
    // Objects are the engine's chunks (in memory already): one request each, retried whole.
    const data = await collectBody(body, options.length).catch((error: unknown) => {
      throw new StowageError(`${where}: ${describeError(error)}`, errorDetails(context, error));
    });
    if (options.sha256) {
      const actual = createHash('sha256').update(data).digest('hex');
      if (actual !== options.sha256) {
        throw new ChecksumMismatchError(`${where}: the body's sha256 is ${actual}, ${options.sha256} was expected; nothing was stored`, errorDetails(context));
      }
    }
    const checksum = this.#options.checksum === 'md5' ? { md5Hash: createHash('md5').update(data).digest('base64') } : { crc32c: crc32cOf(data) };
    const file = this.#file(container, key);
    // Detached: an upload cut off by the caller may still be committed later, behind the back of the clean-up that
    // follows an abort; it finishes (within timeout) or fails. Only the attempt's own timeout cuts it off.
    const stored = await this.#retry(context, options.signal, true, (signal) => upload(file, data, { contentType: 'application/octet-stream', ...checksum }, signal));
    // The service verifies what was sent (real GCS refuses a mismatch); its hash of what it stored is compared too.
    const [field, sent] = Object.entries(checksum)[0] as ['md5Hash' | 'crc32c', string];
    const kept = stored[field];
    if (typeof kept === 'string' && kept !== sent) {
      throw new ChecksumMismatchError(`${where}: the service stored ${field} ${kept}, ${sent} was sent; retry`, errorDetails(context));
    }
  }

  async getObject(container: string, key: string, options?: CallOptions): Promise<ObjectBody> {
    const context = this.#call(`download of ${container}/${key}`, container, key);
    const signal = options?.signal;
    const stallMs = this.#options.timeout * 1000;
    // The first part arrives within the retried attempt (a 404 or 503 surfaces there); the rest streams.
    const opened = await this.#retry(context, signal, false, async (attemptSignal, controller) => {
      // CRC32C: the hash GCS sends for every object (x-goog-hash); the library checks the bytes against it.
      const stream = this.#file(container, key).createReadStream({ validation: 'crc32c' });
      // The attempt's signal: the caller's abort, the attempt's timeout, and later the idle timer (same controller).
      const stopWatching = whenAborted(attemptSignal, () => stream.destroy(asError(attemptSignal.reason)));
      const parts = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
      try {
        return { stream, parts, first: await parts.next(), controller, stopWatching };
      } catch (error) {
        stopWatching();
        stream.destroy();
        throw error;
      }
    });
    const { stream, parts, first, controller, stopWatching } = opened;
    const idle = idleTimer(controller, stallMs, () => new AttemptTimeoutError(`the download stalled for ${this.#options.timeout} s`));
    return (async function* () {
      try {
        let next = first;
        while (next.done !== true) {
          yield next.value;
          idle.touch();
          next = await parts.next();
          idle.stop();
        }
      } catch (error) {
        if (signal?.aborted) throw abortedError(`gcs backend ${context.backend}: ${context.operation}`, signal, errorDetails(context));
        throw toStowageError(controller.signal.aborted ? controller.signal.reason : error, context);
      } finally {
        idle.stop();
        stopWatching();
        stream.destroy();
      }
    })();
  }

  async deleteObject(container: string, key: string, options?: CallOptions): Promise<void> {
    const context = this.#call(`delete of ${container}/${key}`, container, key);
    // A missing object (or bucket) is what a delete wants.
    await this.#retry(context, options?.signal, true, (signal) => abortable(this.#file(container, key).delete({ ignoreNotFound: true }), signal));
  }

  async *listObjects(container: string, prefix: string, options?: CallOptions): AsyncIterable<string> {
    const context = this.#call(`listing of bucket ${container} under prefix "${prefix}"`, container);
    const objectPrefix = this.#options.object_prefix;
    let pageToken: string | undefined;
    do {
      const query = { prefix: `${objectPrefix}${prefix}`, maxResults: LIST_PAGE, autoPaginate: false, ...(pageToken === undefined ? {} : { pageToken }) };
      let files: File[];
      let next: { pageToken?: string } | null | undefined;
      try {
        [files, next] = await this.#retry(context, options?.signal, false, (signal) => abortable(this.storage.bucket(container).getFiles(query), signal));
      } catch (error) {
        if (isMissing((error as { cause?: unknown }).cause)) return;
        throw error;
      }
      for (const file of files) yield file.name.slice(objectPrefix.length);
      pageToken = next?.pageToken;
    } while (pageToken !== undefined);
  }

  async #bucketExists(bucket: string, signal: AbortSignal | undefined): Promise<boolean> {
    const context = this.#call(`listing of bucket ${bucket}`, bucket);
    const query = { prefix: this.#options.object_prefix, maxResults: 1, autoPaginate: false };
    try {
      await this.#retry(context, signal, false, (attemptSignal) => abortable(this.storage.bucket(bucket).getFiles(query), attemptSignal));
      return true;
    } catch (error) {
      if (isMissing((error as { cause?: unknown }).cause)) return false;
      throw error;
    }
  }

  async #createBucket(bucket: string, signal: AbortSignal | undefined): Promise<void> {
    const { location, storage_class: storageClass } = this.#options;
    const metadata = { ...(location === undefined ? {} : { location }), ...(storageClass === undefined ? {} : { storageClass }) };
    try {
      await this.#retry(this.#call(`creation of bucket ${bucket}`, bucket), signal, true, (attemptSignal) =>
        abortable(this.storage.createBucket(bucket, metadata), attemptSignal),
      );
    } catch (error) {
      // Created meanwhile by a concurrent caller: fine.
      if ((error as { cause?: { code?: unknown } }).cause?.code !== 409) throw error;
    }
  }

  #missingBucket(check: ContainerCheck, bucket: string): StowageError {
    return missingContainerError(check, {
      prefix: `gcs backend ${this.#backend}: `,
      backend: this.#backend,
      container: bucket,
      noun: 'bucket',
      option: 'create_bucket',
      at: this.#endpoint,
      howToCreate: `e.g. \`gcloud storage buckets create gs://${bucket}\``,
    });
  }

  /** The account named in messages: the key file's (or GOOGLE_APPLICATION_CREDENTIALS') client_email. */
  async #loadAccount(): Promise<void> {
    const path = this.#options.anonymous ? undefined : (this.#options.credentials_file ?? process.env.GOOGLE_APPLICATION_CREDENTIALS);
    if (path === undefined) return;
    const read = readFile(path, 'utf8').then((text) => (JSON.parse(text) as { client_email?: unknown }).client_email);
    // A broken GOOGLE_APPLICATION_CREDENTIALS is reported by the library when it is used; ours is checked here.
    const email = this.#options.credentials_file === undefined ? await read.catch(() => undefined) : await read;
    if (typeof email === 'string') this.#account = `service account ${email}`;
  }

  #file(bucket: string, key: string): File {
    return this.storage.bucket(bucket).file(`${this.#options.object_prefix}${key}`);
  }

  #call(operation: string, bucket: string, key?: string): GcsCallContext {
    return { backend: this.#backend, operation, container: bucket, object: key, account: this.#account };
  }

  /** One request, retried on 429/5xx/timeouts/dropped connections with backoff; failures mapped (cause kept). */
  async #retry<T>(
    context: GcsCallContext,
    signal: AbortSignal | undefined,
    detached: boolean,
    attempt: (attemptSignal: AbortSignal, controller: AbortController) => Promise<T>,
  ): Promise<T> {
    try {
      return await retrying(
        {
          operation: `gcs backend ${this.#backend}: ${context.operation}`,
          attempts: this.#options.retry_attempts,
          backoffMs: this.#options.retry_backoff * 1000,
          timeoutMs: this.#options.timeout * 1000,
          signal,
          detached,
          isRetryable,
          onRetry: ({ attempt: tries, delayMs, failure }) =>
            this.#context.logger?.warn(`gcs backend ${this.#backend}: ${context.operation} failed (attempt ${tries}), retrying in ${delayMs} ms`, {
              error: describeError(failure),
            }),
        },
        attempt,
      );
    } catch (error) {
      throw toStowageError(error, { ...context, account: this.#account });
    }
  }
}

function storageOptions(options: GcsOptions): StorageOptions {
  return {
    ...(options.project_id === undefined ? {} : { projectId: options.project_id }),
    ...(options.api_endpoint === undefined ? {} : { apiEndpoint: options.api_endpoint }),
    ...(options.universe_domain === undefined ? {} : { universeDomain: options.universe_domain }),
    ...(options.credentials_file === undefined ? {} : { keyFilename: options.credentials_file }),
    // A custom endpoint gets no credentials from the library unless asked: private endpoints need them, emulators not.
    useAuthWithCustomEndpoint: !options.anonymous,
    // Retries are the driver's (`retrying`): one policy for every call, uploads included, each attempt under a timeout.
    retryOptions: { autoRetry: false, maxRetries: 0 },
    timeout: options.timeout * 1000,
  };
}

/** A single-request upload (multipart, not resumable), cut off when `signal` aborts; resolves to the stored metadata. */
function upload(file: File, data: Buffer, metadata: FileMetadata, signal: AbortSignal): Promise<FileMetadata> {
  return new Promise((resolve, reject) => {
    const stream = file.createWriteStream({ resumable: false, validation: false, metadata });
    const stopWatching = whenAborted(signal, () => stream.destroy(asError(signal.reason)));
    stream.once('error', (error) => {
      stopWatching();
      reject(error);
    });
    stream.once('finish', () => {
      stopWatching();
      resolve(file.metadata);
    });
    stream.end(data);
  });
}

/** `promise`, or a rejection with the signal's reason once `signal` aborts (the library's calls take no signal). */
function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise((resolve, reject) => {
    const stopWatching = whenAborted(signal, () => reject(signal.reason));
    promise.then(resolve, reject).finally(stopWatching);
  });
}

function asError(reason: unknown): Error {
  return reason instanceof Error ? reason : new Error(String(reason));
}

function crc32cOf(data: Buffer): string {
  const crc = new CRC32C();
  crc.update(data);
  return crc.toString();
}
