import { AbortedError, StowageError } from '@stowage/driver-contract';
import { describe, expect, it } from 'vitest';
import { abortedError, isAbortError, throwIfCancelled, whenAborted } from '../src/index.js';

describe('isAbortError', () => {
  it('recognises AbortedError from any copy, DOMException and Error named AbortError', () => {
    expect(isAbortError(new AbortedError('x was cancelled'))).toBe(true);
    const foreign = Object.assign(new Error('other copy'), { [Symbol.for('stowage.error')]: true, code: 'ABORTED' });
    expect(isAbortError(foreign)).toBe(true);
    expect(isAbortError(new DOMException('This operation was aborted', 'AbortError'))).toBe(true);
    expect(isAbortError(Object.assign(new Error('aborted'), { name: 'AbortError' }))).toBe(true);
  });

  it('does not take other failures for a cancellation', () => {
    expect(isAbortError(new DOMException('late', 'TimeoutError'))).toBe(false);
    expect(isAbortError(new StowageError('other'))).toBe(false);
    expect(isAbortError(new Error('AbortError'))).toBe(false);
    expect(isAbortError(undefined)).toBe(false);
    expect(isAbortError('AbortError')).toBe(false);
  });
});

describe('abortedError and throwIfCancelled', () => {
  it('name the operation, keep the reason as cause and the details', () => {
    const controller = new AbortController();
    controller.abort('shutdown');
    const error = abortedError('swift backend b: PUT of object c/k', controller.signal, { backend: 'b', container: 'c', object: 'k' });
    expect(AbortedError.isInstance(error)).toBe(true);
    expect(error.message).toBe('swift backend b: PUT of object c/k was cancelled');
    expect(error).toMatchObject({ cause: 'shutdown', backend: 'b', container: 'c', object: 'k' });
  });

  it('throwIfCancelled throws only once the signal is aborted', () => {
    const controller = new AbortController();
    expect(() => throwIfCancelled(undefined, 'x')).not.toThrow();
    expect(() => throwIfCancelled(controller.signal, 'x')).not.toThrow();
    controller.abort();
    expect(() => throwIfCancelled(controller.signal, 'get c/k', { backend: 'b' })).toThrow('get c/k was cancelled');
  });
});

describe('whenAborted', () => {
  it('calls back once on abort, at once when already aborted, and never after it stops listening', () => {
    const calls: string[] = [];
    const first = new AbortController();
    whenAborted(first.signal, () => calls.push('first'));
    first.abort();
    first.abort();
    const stopped = new AbortController();
    whenAborted(stopped.signal, () => calls.push('stopped'))();
    stopped.abort();
    whenAborted(AbortSignal.abort(), () => calls.push('already'));
    whenAborted(undefined, () => calls.push('never'))();
    expect(calls).toEqual(['first', 'already']);
  });
});
