import { describe, expect, it } from 'vitest';
import { AbortedError } from '@stowage/driver-contract';
import { OperationLimiter } from '../../src/lifecycle/operation-limiter.js';
import { OperationTimeoutError, runWithTimeout } from '../../src/lifecycle/timeout.js';

describe('OperationLimiter', () => {
  it('never runs more than the limit at once', async () => {
    const limiter = new OperationLimiter(2);
    let running = 0;
    let peak = 0;
    const work = () =>
      limiter.run(async () => {
        running += 1;
        peak = Math.max(peak, running);
        await new Promise((resolve) => setTimeout(resolve, 10));
        running -= 1;
      });
    await Promise.all(Array.from({ length: 7 }, work));
    expect(peak).toBe(2);
    expect(limiter.active).toBe(0);
  });

  it('0 means unlimited', async () => {
    const limiter = new OperationLimiter(0);
    let running = 0;
    let peak = 0;
    await Promise.all(
      Array.from({ length: 5 }, () =>
        limiter.run(async () => {
          running += 1;
          peak = Math.max(peak, running);
          await new Promise((resolve) => setTimeout(resolve, 5));
          running -= 1;
        }),
      ),
    );
    expect(peak).toBe(5);
  });

  it('close() rejects waiting operations with AbortedError and releases none of the running ones', async () => {
    const limiter = new OperationLimiter(1);
    let release!: () => void;
    const first = limiter.run(() => new Promise<string>((resolve) => (release = () => resolve('done'))));
    const second = limiter.run(async () => 'never');
    limiter.close();
    await expect(second).rejects.toSatisfy((error) => AbortedError.isInstance(error));
    release();
    await expect(first).resolves.toBe('done');
    await expect(limiter.run(async () => 1)).rejects.toSatisfy((error) => AbortedError.isInstance(error));
  });
});

describe('runWithTimeout', () => {
  it('aborts the work and rejects at the deadline even if the work ignores its signal', async () => {
    let aborted = false;
    const started = Date.now();
    await expect(
      runWithTimeout('doSetup of b1', 40, (signal) => {
        signal.addEventListener('abort', () => (aborted = true));
        return new Promise(() => undefined);
      }),
    ).rejects.toBeInstanceOf(OperationTimeoutError);
    expect(Date.now() - started).toBeLessThan(300);
    expect(aborted).toBe(true);
  });

  it('returns the result when the work is in time', async () => {
    await expect(runWithTimeout('x', 1000, async () => 42)).resolves.toBe(42);
  });
});
