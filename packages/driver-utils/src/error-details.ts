import type { StowageErrorDetails } from '@stowage/driver-contract';

/** What a driver call concerned, for messages and error details. */
export interface CallContext {
  readonly backend: string;
  /** What was being done, e.g. `PUT of object volumebackups/a/b`. */
  readonly operation: string;
  readonly container?: string | undefined;
  readonly object?: string | undefined;
}

/** Error details naming the backend, container and object of `context` (only those known), with `cause`. */
export function errorDetails(context: Pick<CallContext, 'backend' | 'container' | 'object'>, cause?: unknown): StowageErrorDetails {
  const details: StowageErrorDetails = { backend: context.backend };
  if (cause !== undefined) details.cause = cause;
  if (context.container !== undefined) details.container = context.container;
  if (context.object !== undefined) details.object = context.object;
  return details;
}
