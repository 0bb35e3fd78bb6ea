/**
 * The Swift storage driver: the object API over Node's fetch. No client library: the npm ones are unmaintained or
 * treat a 404 as success (TEST-SERVERS.md), and fetch covers auth, renewal and the object calls.
 */
import {
  AbortedError,
  ChecksumMismatchError,
  DriverSetupError,
  StowageError,
  describeError,
  throwIfAborted,
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
  collectBody,
  countedBody,
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
  type IdleTimer,
} from '@stowage/driver-utils';
import { createHash } from 'node:crypto';
import { authEndpoint, authIdentity, authenticate, type SwiftSession } from './swift-auth.js';
import type { SwiftOptions } from './swift-config.js';
import { SwiftHttpError, SwiftTimeoutError, isRetryable, toStowageError, type SwiftCallContext } from './swift-errors.js';

/** Swift's default `max_file_size` (5 GiB + 2), used until `/info` says otherwise. */
const DEFAULT_MAX_OBJECT_SIZE = 5 * 1024 * 1024 * 1024 + 2;
/** Renew a token this long before the server says it expires, so no request carries a dying token. */
const TOKEN_MARGIN_MS = 60_000;

interface RequestSpec {
  readonly method: 'GET' | 'HEAD' | 'PUT' | 'DELETE' | 'POST';
  readonly container: string;
  readonly object?: string | undefined;
  readonly query?: Record<string, string> | undefined;
  readonly headers?: Record<string, string> | undefined;
  /** A replayable body (bytes) or a one-shot stream factory; a stream is never retried once sent. */
  readonly body?: Uint8Array | (() => ReadableStream<Uint8Array>) | undefined;
  /** Statuses returned to the caller instead of thrown (e.g. 404 for DELETE and HEAD). */
  readonly accept?: readonly number[] | undefined;
  readonly operation: string;
  readonly signal?: AbortSignal | undefined;
  /** Keep the timeout armed after the headers: the caller re-arms it per body part (downloads). */
  readonly streaming?: boolean | undefined;
}

interface SentRequest {
  readonly response: Response;
  /** Re-arms the idle timeout (for streamed bodies); `stop` disarms it. */
  readonly idle: IdleTimer;
}

export class SwiftStore implements StorageDriver {
  readonly driverName = 'swift';
  readonly defaultContainer: string;
  readonly #options: SwiftOptions;
  readonly #context: DriverContext;
  #session: Promise<SwiftSession> | undefined;
  #sessionValue: SwiftSession | undefined;

  /** A plain property (not a getter): wrappers such as proxies read it without access to private fields. */
  capabilities: DriverCapabilities;

  constructor(options: SwiftOptions, context: DriverContext) {
    this.#options = options;
    this.#context = context;
    this.defaultContainer = options.container;
    this.capabilities = this.#capabilitiesFor(DEFAULT_MAX_OBJECT_SIZE);
  }

  #capabilitiesFor(maxObjectSize: number): DriverCapabilities {
    return {
      maxObjectSize,
      preferredConcurrency: this.#options.concurrency,
      // Swift checks the MD5 we send (ETag), not the sha256 the engine gives.
      verifiesPutChecksum: false,
    };
  }

  get #backend(): string {
    return this.#context.backendName;
  }

  async doSetup(options?: CallOptions): Promise<void> {
    const signal = options?.signal;
    const container = this.defaultContainer;
    const prefix = `swift backend ${this.#backend}: `;
    const setupError = (step: string, error: unknown) =>
      setupStepError(prefix, step, error, { backend: this.#backend, container });

    // 1. Authentication, always fresh: a wrong key must fail here, not on the first backup.
    this.#dropSession();
    try {
      await this.#getSession(signal);
    } catch (error) {
      throw setupError(`authentication as ${authIdentity(this.#options)} at ${authEndpoint(this.#options)} failed`, error);
    }

    // 2. Cluster capabilities: the largest object the cluster accepts bounds the engine's chunk size.
    try {
      const info = await this.#info(signal);
      const maxFileSize = info?.swift?.max_file_size;
      if (typeof maxFileSize === 'number' && maxFileSize > 0) this.capabilities = this.#capabilitiesFor(maxFileSize);
    } catch (error) {
      throw setupError('reading the cluster capabilities (GET /info) failed', error);
    }

    // 3. The default container.
    try {
      const exists = await this.#containerExists(container, signal);
      if (!exists) {
        if (!this.#options.create_container) throw this.#missingContainer('setup', container);
        await this.#createContainer(container, signal);
      }
    } catch (error) {
      if (DriverSetupError.isInstance(error)) throw error;
      throw setupError(`checking container ${container} failed`, error);
    }

    // 4. Prove we can write, read back and delete.
    await runSetupProbe(objectProbe(this, container), {
      signal,
      onFailure: (step, error) => setupError(`${step} failed (is the account writable and not over quota?)`, error),
    });
  }

  async checkAvailable(options?: CallOptions): Promise<void> {
    const container = this.defaultContainer;
    const exists = await this.#containerExists(container, options?.signal);
    // A container we may not create makes the backend unusable until someone creates it.
    if (!exists && !this.#options.create_container) throw this.#missingContainer('availability', container);
  }

  async ensureContainer(container: string, options?: CallOptions): Promise<void> {
    if (await this.#containerExists(container, options?.signal)) return;
    if (!this.#options.create_container) throw this.#missingContainer('ensure', container);
    await this.#createContainer(container, options?.signal);
  }

  #missingContainer(check: ContainerCheck, container: string): StowageError {
    const howToCreate = `e.g. \`swift post ${container}\``;
    return missingContainerError(check, { prefix: `swift backend ${this.#backend}: `, backend: this.#backend, container, option: 'create_container', howToCreate });
  }

  async putObject(container: string, key: string, body: PutBody, options: PutObjectOptions): Promise<void> {
    const operation = `PUT of object ${container}/${key}`;
    const context = this.#callContext(operation, container, key);
    throwIfCancelled(options.signal, `swift backend ${this.#backend}: ${operation}`, errorDetails(context));
    if (body instanceof Uint8Array) {
      const data = await collectBody(body, options.length).catch((error: unknown) => {
        throw this.#bodyError(context, error as Error);
      });
      // Swift verifies the MD5 we send as ETag and refuses the object (422) when it differs.
      const md5 = createHash('md5').update(data).digest('hex');
      const { response } = await this.#request({
        method: 'PUT',
        container,
        object: key,
        headers: { ETag: md5, 'Content-Type': 'application/octet-stream' },
        body: data,
        operation,
        signal: options.signal,
      });
      this.#checkEtag(response, md5, context);
      return;
    }

    // A stream: hashed and counted as it goes; its MD5 is known only at the end, so the answer's ETag is checked.
    const md5 = createHash('md5');
    // Set when the body itself failed (short, long, or its source threw): not a Swift failure.
    let bodyError: Error | undefined;
    const parts = countedBody(body, options.length)[Symbol.asyncIterator]();
    const signal = options.signal;
    let finished = false;
    let stopWatching = () => {};
    const stream = () =>
      new ReadableStream<Uint8Array>({
        start(controller) {
          // Cutting the body short before its end is safe (Swift discards an incomplete upload); after the last
          // byte the answer is awaited instead (see #request).
          stopWatching = whenAborted(signal, () => {
            if (finished) return;
            finished = true;
            bodyError = abortedError(operation, signal);
            controller.error(bodyError);
          });
        },
        async pull(controller) {
          if (finished) return;
          let next: IteratorResult<Uint8Array>;
          try {
            next = await parts.next();
          } catch (error) {
            // Erroring the stream aborts the chunked upload: Swift never commits a short or long object.
            finished = true;
            bodyError = error instanceof BodyLengthError ? error : new Error(`reading the body failed: ${describeError(error)}`, { cause: error });
            controller.error(bodyError);
            return;
          }
          if (next.done) {
            finished = true;
            controller.close();
            return;
          }
          md5.update(next.value);
          controller.enqueue(next.value);
        },
        async cancel() {
          await parts.return?.();
        },
      });
    try {
      const { response } = await this.#request({
        method: 'PUT',
        container,
        object: key,
        headers: { 'Content-Type': 'application/octet-stream' },
        body: stream,
        operation,
        signal: options.signal,
      });
      this.#checkEtag(response, md5.digest('hex'), context);
    } catch (error) {
      if (AbortedError.isInstance(bodyError)) throw toStowageError(bodyError, context);
      if (bodyError !== undefined) throw this.#bodyError(context, bodyError);
      throw error;
    } finally {
      stopWatching();
    }
  }

  /** The caller's body is at fault (wrong length, its source threw), not Swift. */
  #bodyError(context: SwiftCallContext, error: Error): StowageError {
    return new StowageError(`swift backend ${this.#backend}: ${context.operation}: ${error.message}`, errorDetails(context, error));
  }

  async getObject(container: string, key: string, options?: CallOptions): Promise<ObjectBody> {
    const operation = `GET of object ${container}/${key}`;
    const context = this.#callContext(operation, container, key);
    const { response, idle } = await this.#request({ method: 'GET', container, object: key, operation, signal: options?.signal, streaming: true });
    const reader = response.body?.getReader();
    return (async function* () {
      if (reader === undefined) {
        idle.stop();
        return;
      }
      try {
        for (;;) {
          idle.touch();
          const { done, value } = await reader.read();
          if (done) return;
          yield value;
        }
      } catch (error) {
        throw toStowageError(options?.signal?.aborted ? options.signal.reason ?? error : error, context);
      } finally {
        idle.stop();
        // Stopping early must release the connection.
        await reader.cancel().catch(() => undefined);
      }
    })();
  }

  async deleteObject(container: string, key: string, options?: CallOptions): Promise<void> {
    // 404: already gone, which is what a delete wants (deletes are retried and resumed).
    await this.#request({
      method: 'DELETE',
      container,
      object: key,
      accept: [404],
      operation: `DELETE of object ${container}/${key}`,
      signal: options?.signal,
    });
  }

  async *listObjects(container: string, prefix: string, options?: CallOptions): AsyncIterable<string> {
    const limit = this.#options.listing_page_size;
    let marker = '';
    for (;;) {
      const query: Record<string, string> = { format: 'json', prefix, limit: String(limit) };
      if (marker) query.marker = marker;
      const { response } = await this.#request({
        method: 'GET',
        container,
        query,
        accept: [404],
        operation: `listing of container ${container} under prefix "${prefix}"`,
        signal: options?.signal,
      });
      if (response.status === 404 || response.status === 204) {
        await response.body?.cancel();
        return;
      }
      const page = (await response.json()) as Array<{ name?: string; subdir?: string }>;
      let last: string | undefined;
      for (const entry of page) {
        if (entry.name === undefined) continue;
        last = entry.name;
        yield entry.name;
      }
      if (page.length < limit || last === undefined) return;
      marker = last;
    }
  }

  async close(): Promise<void> {
    this.#dropSession();
  }

  async #containerExists(container: string, signal: AbortSignal | undefined): Promise<boolean> {
    const { response } = await this.#request({
      method: 'HEAD',
      container,
      accept: [404],
      operation: `HEAD of container ${container}`,
      signal,
    });
    return response.status !== 404;
  }

  async #createContainer(container: string, signal: AbortSignal | undefined): Promise<void> {
    await this.#request({ method: 'PUT', container, operation: `creation of container ${container}`, signal });
  }

  /** `GET /info` at the cluster root; `undefined` when the cluster hides it (`expose_info = false`). */
  async #info(signal: AbortSignal | undefined): Promise<{ swift?: { max_file_size?: number } } | undefined> {
    const { storageUrl } = await this.#getSession(signal);
    const url = new URL(storageUrl);
    // The storage URL is `<root>/v1/AUTH_x`; `/info` sits at `<root>/info`.
    const at = url.pathname.search(/\/v1(\/|$)/);
    url.pathname = `${at >= 0 ? url.pathname.slice(0, at) : ''}/info`;
    const response = await this.#retrying({ operation: `GET of ${url.href}`, signal }, (attemptSignal) =>
      fetch(url, { method: 'GET', signal: attemptSignal }),
    );
    if (response.status === 404 || response.status === 403) {
      await response.body?.cancel();
      this.#context.logger?.warn('swift /info is not available; assuming the default 5 GiB object size limit', { backend: this.#backend });
      return undefined;
    }
    if (!response.ok) throw await httpError(response, 'GET', url.href);
    return (await response.json()) as { swift?: { max_file_size?: number } };
  }

  async #getSession(signal: AbortSignal | undefined): Promise<SwiftSession> {
    const current = this.#sessionValue;
    if (current !== undefined) {
      if (current.expiresAt === undefined || current.expiresAt - TOKEN_MARGIN_MS > Date.now()) return current;
      this.#dropSession();
    }
    throwIfAborted(signal, 'authentication');
    // One authentication at a time: concurrent uploads share it, so no single caller's signal may cancel it
    // (its own timeout and retries bound it).
    this.#session ??= authenticate(this.#options, (url, init) =>
      this.#retrying({ operation: `authentication at ${url}`, signal: undefined }, (attemptSignal) =>
        fetch(url, { ...init, signal: attemptSignal }),
      ),
    ).then(
      (session) => {
        this.#sessionValue = session;
        return session;
      },
      (error: unknown) => {
        this.#session = undefined;
        throw toStowageError(error, {
          backend: this.#backend,
          operation: `authentication as ${authIdentity(this.#options)} at ${authEndpoint(this.#options)}`,
        });
      },
    );
    return this.#session;
  }

  #dropSession(token?: string): void {
    // Only drop the token that failed: a concurrent request may already have renewed it.
    if (token !== undefined && this.#sessionValue !== undefined && this.#sessionValue.token !== token) return;
    this.#session = undefined;
    this.#sessionValue = undefined;
  }

  /** One Swift API call with auth, renewal on 401, timeouts, retries on 5xx and connection errors, typed errors. */
  async #request(spec: RequestSpec): Promise<SentRequest> {
    const context = this.#callContext(spec.operation, spec.container, spec.object);
    try {
      let renewed = false;
      for (;;) {
        const session = await this.#getSession(spec.signal);
        const url = this.#url(session.storageUrl, spec.container, spec.object, spec.query);
        const replayable = !(typeof spec.body === 'function');
        let idle: IdleTimer = { touch() {}, stop() {} };
        // Writes are not cut off when the caller aborts: an upload dropped after its last byte may still be
        // committed by Swift later, behind the back of the clean-up that follows the abort. They finish (within
        // the timeout) or fail, so that once putObject settles the stored state is final.
        const detached = spec.method === 'PUT' || spec.method === 'DELETE' || spec.method === 'POST';
        const retry = { operation: spec.operation, signal: spec.signal, replayable, detached };
        const response = await this.#retrying(retry, async (attemptSignal, controller) => {
          const body = typeof spec.body === 'function' ? spec.body() : spec.body;
          const init: RequestInit & { duplex?: 'half' } = {
            method: spec.method,
            headers: { 'X-Auth-Token': session.token, ...spec.headers },
            signal: attemptSignal,
          };
          if (body !== undefined) {
            init.body = body;
            if (!(body instanceof Uint8Array)) init.duplex = 'half';
          }
          const answer = await fetch(url, init);
          if (spec.streaming && answer.ok) {
            // A download that stalls longer than `timeout` between two parts is aborted.
            idle = idleTimer(controller, this.#options.timeout * 1000, () => new SwiftTimeoutError(`download stalled for ${this.#options.timeout} s`));
            idle.touch();
          }
          return answer;
        });
        if (response.status === 401 && !renewed) {
          // Tokens expire or get revoked: authenticate once more and repeat the call.
          await response.body?.cancel();
          idle.stop();
          this.#dropSession(session.token);
          renewed = true;
          if (typeof spec.body === 'function') throw await httpError(response, spec.method, url.href);
          continue;
        }
        if (response.ok || spec.accept?.includes(response.status)) {
          if (!spec.streaming) await discardUnlessNeeded(response, spec);
          return { response, idle };
        }
        idle.stop();
        throw await httpError(response, spec.method, url.href);
      }
    } catch (error) {
      throw toStowageError(error, context);
    }
  }

  /**
   * Run `attempt` with the per-request timeout, retrying on 5xx and connection errors with exponential backoff
   * (`retry_backoff`, doubled each time). Non-replayable bodies are tried once.
   */
  #retrying(
    how: { operation: string; signal: AbortSignal | undefined; replayable?: boolean; detached?: boolean },
    attempt: (attemptSignal: AbortSignal, controller: AbortController) => Promise<Response>,
  ): Promise<Response> {
    const { operation } = how;
    const replayable = how.replayable ?? true;
    return retrying<Response>(
      {
        operation,
        signal: how.signal,
        detached: how.detached,
        attempts: this.#options.retry_attempts + 1,
        backoffMs: this.#options.retry_backoff * 1000,
        timeoutMs: this.#options.timeout * 1000,
        timeoutReason: () => new SwiftTimeoutError(`no answer within ${this.#options.timeout} s`),
        isRetryable: (failure) => replayable && isRetryable(failure),
        // A 5xx answer is retried like a dropped connection, but only with a body that can be sent again.
        failureOf: (response) => (replayable && response.status >= 500 ? httpError(response, 'request', operation) : undefined),
        onRetry: ({ attempt: tries, delayMs, failure }) =>
          this.#context.logger?.warn(`swift ${operation} failed, retrying in ${delayMs} ms`, {
            backend: this.#backend,
            error: describeError(failure),
            attempt: tries,
          }),
      },
      attempt,
    );
  }

  #checkEtag(response: Response, md5: string, context: SwiftCallContext): void {
    const etag = response.headers.get('etag')?.replace(/"/g, '');
    if (etag !== undefined && etag !== md5) {
      throw new ChecksumMismatchError(
        `swift backend ${this.#backend}: ${context.operation}: Swift stored MD5 ${etag} but ${md5} was sent; the data was damaged in transit, retry`,
        errorDetails(context),
      );
    }
  }

  #url(storageUrl: string, container: string, object: string | undefined, query: Record<string, string> | undefined): URL {
    let path = `${storageUrl}/${encodeURIComponent(container)}`;
    // Keep `/` in keys literal: Swift stores the name as given, and pseudo-folders read better in logs.
    if (object !== undefined) path += `/${object.split('/').map(encodeURIComponent).join('/')}`;
    const url = new URL(path);
    for (const [name, value] of Object.entries(query ?? {})) url.searchParams.set(name, value);
    return url;
  }

  #callContext(operation: string, container: string, object?: string): SwiftCallContext {
    return { backend: this.#backend, operation, container, object };
  }
}

/** Free the connection of answers whose body nobody reads (HEAD, PUT, DELETE, 404s). */
async function discardUnlessNeeded(response: Response, spec: RequestSpec): Promise<void> {
  const readsBody = spec.method === 'GET' && response.ok;
  if (!readsBody) await response.body?.cancel().catch(() => undefined);
}

async function httpError(response: Response, method: string, url: string): Promise<SwiftHttpError> {
  const body = await response.text().catch(() => '');
  return new SwiftHttpError(response.status, response.statusText, method, url, body.trim(), response.headers.get('x-trans-id') ?? undefined);
}
