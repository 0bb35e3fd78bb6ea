import type { NotificationMessage, NotificationSink } from '@stowage/core';

export interface WebhookSinkOptions {
  readonly url: string;
  readonly timeoutMs: number;
  /** Further attempts after the first fails (network error, timeout, 5xx or 429). */
  readonly retries: number;
  readonly headers?: Readonly<Record<string, string>> | undefined;
  /** First retry delay; doubles per retry. */
  readonly backoffMs?: number | undefined;
}

export class WebhookDeliveryError extends Error {}

/** HTTP POSTs each notification's JSON to a URL, with a per-attempt timeout and bounded retries. */
export class WebhookNotificationSink implements NotificationSink {
  readonly name: string;
  readonly #options: WebhookSinkOptions;
  readonly #closing = new AbortController();

  constructor(options: WebhookSinkOptions) {
    this.#options = options;
    this.name = `webhook ${new URL(options.url).origin}`;
  }

  async send(message: NotificationMessage<object>): Promise<void> {
    const body = JSON.stringify(message);
    let lastError: unknown;
    for (let attempt = 0; attempt <= this.#options.retries; attempt += 1) {
      if (attempt > 0) await sleep((this.#options.backoffMs ?? 200) * 2 ** (attempt - 1), this.#closing.signal);
      if (this.#closing.signal.aborted) break;
      try {
        const response = await fetch(this.#options.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...this.#options.headers },
          body,
          signal: AbortSignal.any([AbortSignal.timeout(this.#options.timeoutMs), this.#closing.signal]),
        });
        await response.body?.cancel();
        if (response.ok) return;
        lastError = new WebhookDeliveryError(`HTTP ${response.status}`);
        // Client errors other than 429 will not improve by retrying.
        if (response.status < 500 && response.status !== 429) break;
      } catch (error) {
        lastError = error;
      }
    }
    throw new WebhookDeliveryError(
      `${message.event_type} not delivered to ${this.name} after ${this.#options.retries + 1} attempt(s): ${(lastError as Error)?.message ?? lastError}`,
      { cause: lastError },
    );
  }

  async close(): Promise<void> {
    this.#closing.abort();
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });
}
