import { AbortedError, type StowageErrorDetails } from '@stowage/driver-contract';

/**
 * True for a cancellation, whoever raised it: an `AbortedError` from any copy of the contract, or the platform's
 * `AbortError` (a `DOMException` from fetch and timers, an `Error` from Node streams and SDKs).
 */
export function isAbortError(error: unknown): boolean {
  if (AbortedError.isInstance(error)) return true;
  return typeof error === 'object' && error !== null && (error as { name?: unknown }).name === 'AbortError';
}

/** The `AbortedError` for `operation` cancelled through `signal`: "<operation> was cancelled", the reason as cause. */
export function abortedError(operation: string, signal: AbortSignal | undefined, details: StowageErrorDetails = {}): AbortedError {
  return new AbortedError(`${operation} was cancelled`, { ...details, cause: signal?.reason });
}

/** Throws `abortedError(operation, signal, details)` when `signal` is aborted. */
export function throwIfCancelled(signal: AbortSignal | undefined, operation: string, details: StowageErrorDetails = {}): void {
  if (signal?.aborted) throw abortedError(operation, signal, details);
}

/**
 * Call `onAbort` once when `signal` aborts (at once if it already has); returns the function that stops listening,
 * to call when the work is done so that a long-lived signal does not collect listeners.
 */
export function whenAborted(signal: AbortSignal | undefined, onAbort: () => void): () => void {
  if (signal === undefined) return () => {};
  if (signal.aborted) {
    onAbort();
    return () => {};
  }
  signal.addEventListener('abort', onAbort, { once: true });
  return () => signal.removeEventListener('abort', onAbort);
}
