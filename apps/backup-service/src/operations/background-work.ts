/** Work an operation goes on with after answering the request (placement loops, volume files); shutdown waits for it. */
import { describeError } from '@stowage/core';
import type { Logger } from 'pino';

export class BackgroundWork {
  readonly #running = new Set<Promise<void>>();
  readonly #logger: Logger;

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  /** Start `work` now; a failure is logged (each operation records its own failures in the rows first). */
  run(what: string, work: () => Promise<void>): void {
    const done: Promise<void> = work()
      .catch((error: unknown) => this.#logger.error({ err: describeError(error), work: what }, 'background work failed'))
      .finally(() => this.#running.delete(done));
    this.#running.add(done);
  }

  /** Resolves once everything started so far (and anything it started) has finished. */
  async settled(): Promise<void> {
    while (this.#running.size > 0) await Promise.allSettled([...this.#running]);
  }
}
