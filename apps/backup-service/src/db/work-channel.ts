/**
 * The wake-up side of the work queue on PostgreSQL: one dedicated connection LISTENs on `WORK_CHANNEL` and hands
 * each notified host name to `onWork`. A lost connection is re-opened with a bounded back-off; meanwhile (and for a
 * notification sent while nobody listened) the queue's polling finds the work, so a wake-up is only ever early.
 */
import { describeError } from '@stowage/core';
import pg from 'pg';
import type { Logger } from 'pino';
import { WORK_CHANNEL } from './store.js';

const CONNECT_TIMEOUT_MS = 5000;
const MAX_BACKOFF_MS = 10_000;

export class WorkChannel {
  readonly #url: string;
  readonly #logger: Logger;
  readonly #onWork: (host: string) => void;
  #client: pg.Client | undefined;
  #stopped = false;
  #retry: NodeJS.Timeout | undefined;
  #failures = 0;

  constructor(url: string, logger: Logger, onWork: (host: string) => void) {
    this.#url = url;
    this.#logger = logger;
    this.#onWork = onWork;
  }

  /** Connect and LISTEN; resolves once listening or once the first attempt failed (retries go on). */
  async start(): Promise<void> {
    await this.#connect();
  }

  async #connect(): Promise<void> {
    if (this.#stopped) return;
    const client = new pg.Client({ connectionString: this.#url, connectionTimeoutMillis: CONNECT_TIMEOUT_MS, keepAlive: true });
    client.on('notification', (message) => {
      if (message.channel === WORK_CHANNEL && message.payload) this.#onWork(message.payload);
    });
    const lost = (error?: unknown) => {
      if (this.#client !== client) return;
      this.#client = undefined;
      client.end().catch(() => undefined);
      if (!this.#stopped) {
        this.#logger.warn({ err: error === undefined ? 'connection ended' : describeError(error) }, 'work channel lost its connection; polling until it is back');
        this.#scheduleRetry();
      }
    };
    client.on('error', lost);
    client.on('end', () => lost());
    try {
      await client.connect();
      await client.query(`LISTEN ${WORK_CHANNEL}`);
      if (this.#stopped) {
        await client.end();
        return;
      }
      this.#client = client;
      this.#failures = 0;
    } catch (error) {
      await client.end().catch(() => undefined);
      this.#logger.warn({ err: describeError(error) }, 'work channel could not LISTEN; polling until it can');
      this.#scheduleRetry();
    }
  }

  #scheduleRetry(): void {
    if (this.#stopped || this.#retry) return;
    this.#failures += 1;
    const backoff = Math.min(MAX_BACKOFF_MS, 250 * 2 ** Math.min(this.#failures, 6));
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      void this.#connect();
    }, backoff);
    this.#retry.unref();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#retry) clearTimeout(this.#retry);
    const client = this.#client;
    this.#client = undefined;
    await client?.end().catch(() => undefined);
  }
}
