import { AbortedError } from '@stowage/driver-contract';
import { describe, expect, it } from 'vitest';
import { AttemptTimeoutError, idleTimer, retrying, type RetryInfo, type RetryOptions } from '../src/index.js';

const transient = Object.assign(new Error('connection reset'), { code: 'ECONNRESET' });
const fatal = new Error('refused for good');

function policy<T>(overrides: Partial<RetryOptions<T>> = {}): RetryOptions<T> {
  return { operation: 'GET of c/k', attempts: 3, backoffMs: 1, timeoutMs: 1000, isRetryable: (e) => e === transient, ...overrides };
}

describe('retrying', () => {
  it('returns the first success, retrying retryable failures with doubling backoff', async () => {
    const retries: RetryInfo[] = [];
    let calls = 0;
    const result = await retrying(policy({ backoffMs: 5, onRetry: (info) => retries.push(info) }), async () => {
      calls += 1;
      if (calls < 3) throw transient;
      return 'done';
    });
    expect(result).toBe('done');
    expect(retries.map(({ attempt, delayMs }) => [attempt, delayMs])).toEqual([
      [1, 5],
      [2, 10],
    ]);
    expect(retries[0]?.failure).toBe(transient);
  });

  it('throws a failure that is not retryable at once, and the last one after all attempts', async () => {
    let calls = 0;
    await expect(retrying(policy(), async () => ((calls += 1), Promise.reject(fatal)))).rejects.toBe(fatal);
    expect(calls).toBe(1);
    calls = 0;
    await expect(retrying(policy(), async () => ((calls += 1), Promise.reject(transient)))).rejects.toBe(transient);
    expect(calls).toBe(3);
  });

  it('retries a result that failureOf rejects, but returns the last attempt’s result as is', async () => {
    const answers = [503, 503, 503];
    let calls = 0;
    const result = await retrying(policy<number>({ failureOf: (status) => (status >= 500 ? new Error(`HTTP ${status}`) : undefined) }), async () => answers[calls++]!);
    expect(result).toBe(503);
    expect(calls).toBe(3);
    calls = 0;
    const ok = await retrying(policy<number>({ failureOf: (status) => (status >= 500 ? new Error('5xx') : undefined) }), async () => [503, 201][calls++]!);
    expect(ok).toBe(201);
  });

  it('aborts an attempt that takes longer than timeoutMs with the timeout reason, and retries it', async () => {
    let calls = 0;
    const reasons: unknown[] = [];
    const error = await retrying(
      policy({ attempts: 2, timeoutMs: 30, isRetryable: (e) => e instanceof AttemptTimeoutError }),
      (attemptSignal) =>
        new Promise((_resolve, reject) => {
          calls += 1;
          // What fetch does: reject with an AbortError; the reason says it was the timeout.
          attemptSignal.addEventListener('abort', () => {
            reasons.push(attemptSignal.reason);
            reject(new DOMException('aborted', 'AbortError'));
          });
        }),
    ).catch((e: unknown) => e);
    expect(calls).toBe(2);
    expect(error).toBeInstanceOf(AttemptTimeoutError);
    expect((error as Error).message).toBe('no answer within 0.03 s');
    expect(reasons[0]).toBeInstanceOf(AttemptTimeoutError);
  });

  it('uses timeoutReason for the timeout', async () => {
    const custom = new Error('no answer within 0.02 s (custom)');
    const error = await retrying(policy({ attempts: 1, timeoutMs: 20, timeoutReason: () => custom }), (signal) =>
      new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
    ).catch((e: unknown) => e);
    expect(error).toBe(custom);
  });

  it('passes the caller’s abort to the attempt, ending with an AbortedError naming the operation', async () => {
    const controller = new AbortController();
    const run = retrying(policy({ signal: controller.signal }), (signal) =>
      new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')))),
    );
    controller.abort('stop');
    const error = await run.catch((e: unknown) => e);
    expect(AbortedError.isInstance(error)).toBe(true);
    expect((error as Error).message).toBe('GET of c/k was cancelled');
    expect((error as Error).cause).toBe('stop');
  });

  it('does not pass the caller’s abort to a detached attempt, which settles by itself', async () => {
    const controller = new AbortController();
    let attemptAborted = false;
    const run = retrying(policy({ signal: controller.signal, detached: true }), async (signal) => {
      controller.abort();
      await new Promise((resolve) => setTimeout(resolve, 20));
      attemptAborted = signal.aborted;
      return 'committed';
    });
    expect(await run).toBe('committed');
    expect(attemptAborted).toBe(false);
  });

  it('cuts the backoff wait short when the caller aborts', async () => {
    const controller = new AbortController();
    const started = Date.now();
    const run = retrying(policy({ signal: controller.signal, backoffMs: 10_000 }), async () => {
      setTimeout(() => controller.abort(), 10);
      throw transient;
    });
    const error = await run.catch((e: unknown) => e);
    expect(AbortedError.isInstance(error)).toBe(true);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('does not start when the signal is already aborted', async () => {
    let calls = 0;
    const error = await retrying(policy({ signal: AbortSignal.abort() }), async () => (calls += 1)).catch((e: unknown) => e);
    expect(AbortedError.isInstance(error)).toBe(true);
    expect(calls).toBe(0);
  });

  it('leaves the attempt controller usable after the attempt resolved (idle timers abort through it)', async () => {
    let kept: AbortController | undefined;
    await retrying(policy({ timeoutMs: 20 }), async (_signal, controller) => {
      kept = controller;
      return 'headers';
    });
    // The attempt's timeout was disarmed when it resolved.
    await new Promise((resolve) => setTimeout(resolve, 40));
    expect(kept?.signal.aborted).toBe(false);
  });
});

describe('idleTimer', () => {
  it('aborts when not touched within the timeout, and not while touched or once stopped', async () => {
    const stalled = new AbortController();
    const timer = idleTimer(stalled, 20, () => new Error('stalled'));
    timer.touch();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect((stalled.signal.reason as Error).message).toBe('stalled');

    const busy = new AbortController();
    const busyTimer = idleTimer(busy, 30, () => new Error('stalled'));
    for (let i = 0; i < 4; i += 1) {
      busyTimer.touch();
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    busyTimer.stop();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(busy.signal.aborted).toBe(false);
  });
});
