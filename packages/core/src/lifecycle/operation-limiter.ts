import { AbortedError } from '@stowage/driver-contract';

/**
 * Bounds concurrent operations on one host (`backup_max_operations`; 0 means no bound). Cinder applies its
 * semaphore to restores only, because the create path returns before the work starts; here both creates and
 * restores run inside `run`, so the bound holds for both.
 */
export class OperationLimiter {
  readonly limit: number;
  #active = 0;
  #closed = false;
  readonly #waiting: Array<{ resolve: () => void; reject: (error: unknown) => void }> = [];

  constructor(limit: number) {
    if (!Number.isSafeInteger(limit) || limit < 0) throw new RangeError(`operation limit ${limit} must be an integer >= 0`);
    this.limit = limit;
  }

  get active(): number {
    return this.#active;
  }

  get waiting(): number {
    return this.#waiting.length;
  }

  /** Run `operation` once a slot is free. Rejects with `AbortedError` if the limiter closes while waiting. */
  async run<T>(operation: () => Promise<T>): Promise<T> {
    await this.#acquire();
    try {
      return await operation();
    } finally {
      this.#release();
    }
  }

  /** Reject every operation still waiting for a slot (shutdown); running ones are not affected. */
  close(): void {
    this.#closed = true;
    for (const waiter of this.#waiting.splice(0)) {
      waiter.reject(new AbortedError('the service is shutting down; the operation was not started'));
    }
  }

  async #acquire(): Promise<void> {
    if (this.#closed) throw new AbortedError('the service is shutting down; the operation was not started');
    if (this.limit === 0 || this.#active < this.limit) {
      this.#active += 1;
      return;
    }
    await new Promise<void>((resolve, reject) => this.#waiting.push({ resolve, reject }));
    this.#active += 1;
  }

  #release(): void {
    this.#active -= 1;
    this.#waiting.shift()?.resolve();
  }
}
