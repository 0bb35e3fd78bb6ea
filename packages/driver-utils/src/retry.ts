import { AbortedError, throwIfAborted } from '@stowage/driver-contract';
import { setTimeout as sleep } from 'node:timers/promises';

/** An attempt that got no answer within its `timeoutMs`; the reason its attempt signal was aborted with. */
export class AttemptTimeoutError extends Error {
  override readonly name: string = 'AttemptTimeoutError';
}

export interface RetryInfo {
  /** The attempt that failed, from 1. */
  readonly attempt: number;
  readonly delayMs: number;
  readonly failure: unknown;
}

export interface RetryOptions<T> {
  /** What is being done, for messages: "<operation> was cancelled". */
  readonly operation: string;
  /** Attempts in all, the first included (at least 1). */
  readonly attempts: number;
  /** Wait before the second attempt; doubled before each next one. */
  readonly backoffMs: number;
  /** How long one attempt may take before its signal is aborted with `timeoutReason()`. */
  readonly timeoutMs: number;
  readonly signal?: AbortSignal | undefined;
  /**
   * The caller's abort does not reach a running attempt (writes that must settle, see the driver), only the
   * waits between attempts and the start of the next one.
   */
  readonly detached?: boolean | undefined;
  /** Whether a thrown failure (or an attempt's timeout reason) is worth another attempt. */
  readonly isRetryable: (failure: unknown) => boolean;
  /**
   * A result that counts as a failure worth another attempt (a 5xx answer): return the failure, or `undefined` to
   * accept the result. Not consulted on the last attempt, whose result is returned as is for the caller to map.
   */
  readonly failureOf?: ((result: T) => unknown) | undefined;
  /** The reason a timed-out attempt is aborted with; `AttemptTimeoutError` "no answer within N s" by default. */
  readonly timeoutReason?: (() => unknown) | undefined;
  /** Told before each backoff wait (for a log line). */
  readonly onRetry?: ((info: RetryInfo) => void) | undefined;
}

/**
 * Run `attempt` up to `attempts` times with exponential backoff, each attempt under its own timeout.
 *
 * `attempt` gets the signal to pass to its I/O (the caller's signal unless `detached`, plus the timeout) and the
 * attempt's controller, which stays usable after the attempt resolved (a download's idle timer aborts through it).
 * The timeout is disarmed once the attempt resolves. A caller's abort ends it with an `AbortedError`.
 */
export async function retrying<T>(
  options: RetryOptions<T>,
  attempt: (attemptSignal: AbortSignal, attemptController: AbortController) => Promise<T>,
): Promise<T> {
  const { operation, signal } = options;
  const timeoutReason = options.timeoutReason ?? (() => new AttemptTimeoutError(`no answer within ${options.timeoutMs / 1000} s`));
  for (let tries = 1; ; tries += 1) {
    throwIfAborted(signal, operation);
    const last = tries >= options.attempts;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(timeoutReason()), options.timeoutMs);
    const attemptSignal = signal === undefined || options.detached ? controller.signal : AbortSignal.any([signal, controller.signal]);
    let failure: unknown;
    try {
      const result = await attempt(attemptSignal, controller);
      clearTimeout(timer);
      failure = last || options.failureOf === undefined ? undefined : await options.failureOf(result);
      if (failure === undefined) return result;
    } catch (error) {
      clearTimeout(timer);
      if (signal?.aborted) throw new AbortedError(`${operation} was cancelled`, { cause: signal.reason });
      // An aborted fetch rejects with a bare AbortError: the timeout's reason says what happened.
      failure = controller.signal.aborted ? controller.signal.reason : error;
      if (last || !options.isRetryable(failure)) throw failure;
    }
    const delayMs = options.backoffMs * 2 ** (tries - 1);
    options.onRetry?.({ attempt: tries, delayMs, failure });
    await sleep(delayMs, undefined, signal === undefined ? {} : { signal }).catch(() => {
      throw new AbortedError(`${operation} was cancelled`, { cause: signal?.reason });
    });
  }
}

/** Re-armable inactivity timer: aborts `controller` when `touch()` is not called for `timeoutMs`. */
export interface IdleTimer {
  touch(): void;
  stop(): void;
}

/** A stream that stalls longer than `timeoutMs` between two parts is aborted with `reason()`. */
export function idleTimer(controller: AbortController, timeoutMs: number, reason: () => unknown): IdleTimer {
  let timer: NodeJS.Timeout | undefined;
  return {
    touch() {
      clearTimeout(timer);
      timer = setTimeout(() => controller.abort(reason()), timeoutMs);
      // A body nobody reads must not keep the process alive.
      timer.unref();
    },
    stop() {
      clearTimeout(timer);
    },
  };
}
