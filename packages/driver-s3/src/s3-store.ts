/**
 * The S3 storage driver, over the AWS SDK v3 (`@aws-sdk/client-s3`, multipart through `@aws-sdk/lib-storage`).
 */
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import {
  ChecksumMismatchError,
  ConfigError,
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
  abortedError,
  collectBody,
  countedBody,
  errorDetails,
  missingContainerError,
  objectProbe,
  runSetupProbe,
  setupStepError,
  throwIfCancelled,
  whenAborted,
  type ContainerCheck,
} from '@stowage/driver-utils';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { S3Options } from './s3-config.js';
import { isMissingBucket, isMissingKey, toStowageError, type S3CallContext } from './s3-errors.js';

/** S3 allows 10,000 parts per multipart upload and 5 TiB per object. */
const MAX_PARTS = 10_000;
const MAX_OBJECT = 5 * 1024 ** 4;

/** Encryption parameters every write (and, for SSE-C, every read) carries. */
interface EncryptionParams {
  ServerSideEncryption?: 'AES256' | 'aws:kms';
  SSEKMSKeyId?: string;
  SSECustomerAlgorithm?: string;
  SSECustomerKey?: string;
}

export class S3Store implements StorageDriver {
  readonly driverName = 's3';
  readonly defaultContainer: string;
  readonly capabilities: DriverCapabilities;
  /** The SDK client, for callers that need more than the contract (tests, tools). */
  readonly client: S3Client;
  readonly #options: S3Options;
  readonly #context: DriverContext;

  constructor(options: S3Options, context: DriverContext) {
    this.#options = options;
    this.#context = context;
    this.defaultContainer = options.bucket;
    this.capabilities = {
      maxObjectSize: Math.min(MAX_OBJECT, MAX_PARTS * options.multipart_part_size),
      preferredConcurrency: options.concurrency,
      // The service checks the MD5 we send (Content-MD5), not the engine's sha256.
      verifiesPutChecksum: false,
    };
    this.client = new S3Client(clientConfig(options));
    // s3api (and S3 itself for DeleteObjects) requires Content-MD5 there; SDK v3 sends only a CRC32 checksum.
    this.client.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'DeleteObjectsCommand') {
          const request = args.request as { headers?: Record<string, string>; body?: unknown };
          const body = request.body;
          if (request.headers !== undefined && (typeof body === 'string' || body instanceof Uint8Array)) {
            request.headers['content-md5'] = createHash('md5').update(body).digest('base64');
          }
        }
        return next(args);
      },
      { step: 'build', name: 'stowageDeleteObjectsContentMd5', override: true },
    );
  }

  get #backend(): string {
    return this.#context.backendName;
  }

  async doSetup(options?: CallOptions): Promise<void> {
    const signal = options?.signal;
    const bucket = this.defaultContainer;
    const prefix = `s3 backend ${this.#backend}: `;
    const setupError = (step: string, error: unknown) =>
      setupStepError(prefix, step, error, { backend: this.#backend, container: bucket });
    const who = `access key ${this.#options.access_key ?? '(from the environment)'} at ${this.#options.endpoint ?? 'AWS'}`;

    // 1. The bucket, which also proves the credentials (HeadBucket is signed).
    let exists: boolean;
    try {
      exists = await this.#bucketExists(bucket, signal);
    } catch (error) {
      const mapped = toStowageError(error, this.#call(`HeadBucket of ${bucket}`, bucket));
      if (mapped.code === 'STORAGE_AUTH') throw setupError(`authentication with ${who} failed`, mapped);
      throw setupError(`checking bucket ${bucket} failed`, mapped);
    }
    if (!exists) {
      if (!this.#options.create_bucket) throw this.#missingBucket('setup', bucket);
      try {
        await this.#createBucket(bucket, signal);
      } catch (error) {
        throw setupError(`creating bucket ${bucket} failed`, error);
      }
    }

    // 2. Prove we can write, read back and delete.
    await runSetupProbe(objectProbe(this, bucket), {
      signal,
      onFailure: (step, error) => {
        const mapped = toStowageError(error, this.#call(`probe of ${bucket}`, bucket));
        if (mapped.code === 'STORAGE_AUTH') return setupError(`authentication with ${who} failed ${step}`, mapped);
        return setupError(`${step} failed (is the bucket writable?)`, mapped);
      },
    });
  }

  async checkAvailable(options?: CallOptions): Promise<void> {
    const bucket = this.defaultContainer;
    const exists = await this.#bucketExists(bucket, options?.signal).catch((error: unknown) => {
      throw toStowageError(error, this.#call(`HeadBucket of ${bucket}`, bucket));
    });
    // A bucket we may not create makes the backend unusable until someone creates it.
    if (!exists && !this.#options.create_bucket) throw this.#missingBucket('availability', bucket);
  }

  async ensureContainer(container: string, options?: CallOptions): Promise<void> {
    const exists = await this.#bucketExists(container, options?.signal).catch((error: unknown) => {
      throw toStowageError(error, this.#call(`HeadBucket of ${container}`, container));
    });
    if (exists) return;
    if (!this.#options.create_bucket) throw this.#missingBucket('ensure', container);
    await this.#createBucket(container, options?.signal);
  }

  #missingBucket(check: ContainerCheck, bucket: string): StowageError {
    const at = this.#options.endpoint ?? 'AWS';
    return missingContainerError(check, { prefix: `s3 backend ${this.#backend}: `, backend: this.#backend, container: bucket, noun: 'bucket', option: 'create_bucket', at });
  }

  async putObject(container: string, key: string, body: PutBody, options: PutObjectOptions): Promise<void> {
    const context = this.#call(`upload of ${container}/${key}`, container, key);
    throwIfCancelled(options.signal, `s3 backend ${this.#backend}: ${context.operation}`, errorDetails(context));
    try {
      if (options.length > this.#options.multipart_threshold) {
        await this.#multipartUpload(container, key, body, options, context);
        return;
      }
      // Small objects go up in one request with their MD5, so the body is collected (bounded by the threshold).
      const data = await collectBody(body, options.length).catch((error: unknown) => {
        // The caller's body is at fault, not the service.
        throw new StowageError(`s3 backend ${this.#backend}: ${context.operation}: ${describeError(error)}`, errorDetails(context, error));
      });
      const md5 = createHash('md5').update(data).digest();
      // No abort signal once sent: an upload cut off after its last byte may still be committed later, behind
      // the back of the clean-up that follows an abort. It finishes (within the timeout) or fails.
      const response = await this.client.send(
        new PutObjectCommand({
          Bucket: container,
          Key: key,
          Body: data,
          ContentLength: data.length,
          ContentType: 'application/octet-stream',
          ...(this.#options.md5_validation ? { ContentMD5: md5.toString('base64') } : {}),
          ...this.#encryption(),
        }),
      );
      // The ETag is the MD5 of the bytes unless the service encrypts with KMS or a customer key.
      const etag = response.ETag?.replace(/"/g, '');
      const comparable = this.#options.sse !== 'aws:kms' && this.#encryption().SSECustomerKey === undefined;
      if (comparable && etag !== undefined && etag !== md5.toString('hex')) {
        throw new ChecksumMismatchError(
          `s3 backend ${this.#backend}: ${context.operation}: the service stored MD5 ${etag}, ${md5.toString('hex')} was sent; retry`,
          errorDetails(context),
        );
      }
    } catch (error) {
      throw toStowageError(error, context);
    }
  }

  async #multipartUpload(container: string, key: string, body: PutBody, options: PutObjectOptions, context: S3CallContext): Promise<void> {
    const upload = new Upload({
      client: this.client,
      params: {
        Bucket: container,
        Key: key,
        Body: body instanceof Uint8Array ? body : Readable.from(countedBody(body, options.length)),
        ContentType: 'application/octet-stream',
        ...this.#encryption(),
      },
      partSize: this.#options.multipart_part_size,
      queueSize: this.#options.multipart_concurrency,
      // A failed upload aborts itself: no orphaned parts billed forever.
      leavePartsOnError: false,
    });
    // Aborting a multipart upload is safe at any point: it is never completed afterwards.
    const stopWatching = whenAborted(options.signal, () => void upload.abort().catch(() => undefined));
    try {
      await upload.done();
    } catch (error) {
      if (options.signal?.aborted) throw abortedError(`s3 backend ${this.#backend}: ${context.operation}`, options.signal, errorDetails(context));
      throw error;
    } finally {
      stopWatching();
    }
  }

  async getObject(container: string, key: string, options?: CallOptions): Promise<ObjectBody> {
    const context = this.#call(`GetObject of ${container}/${key}`, container, key);
    const signal = options?.signal;
    let body: AsyncIterable<Uint8Array>;
    try {
      const response = await this.client.send(
        new GetObjectCommand({ Bucket: container, Key: key, ...this.#decryption() }),
        signal === undefined ? {} : { abortSignal: signal },
      );
      if (response.Body === undefined) return (async function* () {})();
      body = response.Body as AsyncIterable<Uint8Array>;
    } catch (error) {
      throw toStowageError(error, context);
    }
    return (async function* () {
      try {
        yield* body;
      } catch (error) {
        throw toStowageError(signal?.aborted ? (signal.reason ?? error) : error, context);
      }
    })();
  }

  async deleteObject(container: string, key: string, options?: CallOptions): Promise<void> {
    const context = this.#call(`DeleteObject of ${container}/${key}`, container, key);
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: container, Key: key }), abortOption(options?.signal));
    } catch (error) {
      // Already gone (or never there) is what a delete wants.
      if (isMissingKey(error) || isMissingBucket(error, context)) return;
      throw toStowageError(error, context);
    }
  }

  /**
   * Delete many keys with one DeleteObjects request per 1000 (not part of the contract: for tools and tests).
   * Missing keys count as deleted.
   */
  async deleteObjects(container: string, keys: readonly string[], options?: CallOptions): Promise<void> {
    for (let at = 0; at < keys.length; at += 1000) {
      const batch = keys.slice(at, at + 1000);
      const context = this.#call(`DeleteObjects of ${batch.length} keys in ${container}`, container);
      let errors: Array<{ Key?: string | undefined; Code?: string | undefined; Message?: string | undefined }> | undefined;
      try {
        const response = await this.client.send(
          new DeleteObjectsCommand({ Bucket: container, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } }),
          abortOption(options?.signal),
        );
        errors = response.Errors?.filter((entry) => entry.Code !== 'NoSuchKey');
      } catch (error) {
        throw toStowageError(error, context);
      }
      const first = errors?.[0];
      if (first !== undefined) {
        throw new StowageError(
          `s3 backend ${this.#backend}: ${context.operation}: ${errors?.length} not deleted, e.g. ${first.Key}: ${first.Code} ${first.Message ?? ''}`,
          errorDetails({ ...context, object: first.Key }),
        );
      }
    }
  }

  async *listObjects(container: string, prefix: string, options?: CallOptions): AsyncIterable<string> {
    const context = this.#call(`listing of bucket ${container} under prefix "${prefix}"`, container);
    let token: string | undefined;
    do {
      let page;
      try {
        page = await this.client.send(
          new ListObjectsV2Command({ Bucket: container, Prefix: prefix, MaxKeys: this.#options.listing_page_size, ContinuationToken: token }),
          abortOption(options?.signal),
        );
      } catch (error) {
        if (isMissingBucket(error, context)) return;
        throw toStowageError(error, context);
      }
      for (const entry of page.Contents ?? []) if (entry.Key !== undefined) yield entry.Key;
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
  }

  async close(): Promise<void> {
    this.client.destroy();
  }

  async #bucketExists(bucket: string, signal: AbortSignal | undefined): Promise<boolean> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: bucket }), abortOption(signal));
      return true;
    } catch (error) {
      if (isMissingBucket(error, { backend: this.#backend, operation: 'HeadBucket', container: bucket })) return false;
      throw error;
    }
  }

  async #createBucket(bucket: string, signal: AbortSignal | undefined): Promise<void> {
    try {
      const region = this.#options.region;
      await this.client.send(
        new CreateBucketCommand({
          Bucket: bucket,
          // us-east-1 is the one region that refuses an explicit location constraint.
          ...(region === 'us-east-1' ? {} : { CreateBucketConfiguration: { LocationConstraint: region as never } }),
        }),
        abortOption(signal),
      );
    } catch (error) {
      // Created meanwhile by a concurrent caller: fine.
      if (error instanceof Error && error.name === 'BucketAlreadyOwnedByYou') return;
      throw toStowageError(error, this.#call(`CreateBucket of ${bucket}`, bucket));
    }
  }

  #encryption(): EncryptionParams {
    const options = this.#options;
    if (options.sse !== undefined) {
      return { ServerSideEncryption: options.sse, ...(options.sse_kms_key_id === undefined ? {} : { SSEKMSKeyId: options.sse_kms_key_id }) };
    }
    return this.#decryption();
  }

  /** SSE-C needs the key on reads too; service-side SSE does not. */
  #decryption(): EncryptionParams {
    const options = this.#options;
    let key = options.sse_customer_key;
    if (key === undefined && options.sse_customer_key_env !== undefined) {
      key = process.env[options.sse_customer_key_env];
      if (!key) throw new ConfigError(`sse_customer_key_env names ${options.sse_customer_key_env}, which is not set`);
    }
    return key === undefined ? {} : { SSECustomerAlgorithm: 'AES256', SSECustomerKey: key };
  }

  #call(operation: string, bucket: string, key?: string): S3CallContext {
    return { backend: this.#backend, operation, container: bucket, object: key };
  }
}

function clientConfig(options: S3Options): S3ClientConfig {
  const config: S3ClientConfig = {
    region: options.region,
    forcePathStyle: options.force_path_style,
    maxAttempts: options.retry_max_attempts,
    retryMode: options.retry_mode,
    requestHandler: {
      connectionTimeout: options.connect_timeout * 1000,
      // Until the answer's headers. Without throwOnRequestTimeout this SDK version only logs a warning and waits on.
      requestTimeout: options.timeout * 1000,
      throwOnRequestTimeout: true,
      // A body (upload or download) idle this long is abandoned too.
      socketTimeout: options.timeout * 1000,
    },
    // Only where the API demands it: S3-compatible services (s3api among them) reject the newer default checksums.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  };
  if (options.endpoint !== undefined) config.endpoint = options.endpoint;
  if (options.access_key !== undefined) {
    const accessKeyId = options.access_key;
    const { secret_key: secret, secret_key_env: secretEnv, session_token: sessionToken } = options;
    // A provider, so that a missing environment variable surfaces as an auth error at doSetup, not at start-up.
    config.credentials = async () => {
      const secretAccessKey = secret ?? (secretEnv === undefined ? undefined : process.env[secretEnv]);
      if (!secretAccessKey) {
        throw new ConfigError(`secret_key_env names the environment variable ${secretEnv ?? '(unset)'}, which is not set or empty`);
      }
      return sessionToken === undefined ? { accessKeyId, secretAccessKey } : { accessKeyId, secretAccessKey, sessionToken };
    };
  }
  return config;
}

function abortOption(signal: AbortSignal | undefined): { abortSignal?: AbortSignal } {
  return signal === undefined ? {} : { abortSignal: signal };
}
