import {
  AbortedError,
  DriverSetupError,
  NotFoundError,
  StorageUnavailableError,
  describeError,
  type StowageError,
  type StowageErrorDetails,
} from '@stowage/driver-contract';

/**
 * The `DriverSetupError` for a failed step of `doSetup`: "<prefix>setup failed: <step>: <detail>". `prefix` names
 * the driver and backend (e.g. `swift backend b1: `); a detail that already starts with it is not repeated. A
 * cancellation stays an `AbortedError`.
 */
export function setupStepError(prefix: string, step: string, error: unknown, details: StowageErrorDetails = {}): StowageError {
  if (AbortedError.isInstance(error)) return error;
  const detail = describeError(error);
  const message = detail.startsWith(prefix) ? detail.slice(prefix.length) : detail;
  return new DriverSetupError(`${prefix}setup failed: ${step}: ${message}`, { ...details, cause: error });
}

/** A default container that is missing while the driver may not create it. */
export interface MissingContainer {
  /** Names the driver and backend, as for `setupStepError`, e.g. `swift backend b1: `. */
  readonly prefix: string;
  readonly backend: string;
  readonly container: string;
  /** What the backend calls a container: `container`, `bucket`. */
  readonly noun?: string | undefined;
  /** The option that allows creating it, e.g. `create_container`. */
  readonly option: string;
  /** Where it was looked for (an endpoint), when that helps. */
  readonly at?: string | undefined;
  /** How an operator creates it, e.g. "e.g. `swift post volumebackups`". */
  readonly howToCreate?: string | undefined;
}

/** Which call found the container missing; each reports it as its contract says. */
export type ContainerCheck = 'setup' | 'availability' | 'ensure';

/**
 * "<prefix><noun> X does not exist [at Y] and <option> is false; create it [(how)] or set <option>: true", as a
 * `DriverSetupError` from doSetup, a `StorageUnavailableError` from checkAvailable (the backend is unusable until
 * someone creates it) and a `NotFoundError` from ensureContainer.
 */
export function missingContainerError(check: ContainerCheck, missing: MissingContainer): StowageError {
  const noun = missing.noun ?? 'container';
  const at = missing.at === undefined ? '' : ` at ${missing.at}`;
  const how = missing.howToCreate === undefined ? '' : ` (${missing.howToCreate})`;
  const message =
    `${missing.prefix}${noun} ${missing.container} does not exist${at} and ${missing.option} is false; ` +
    `create it${how} or set ${missing.option}: true`;
  const details = { backend: missing.backend, container: missing.container };
  if (check === 'setup') return new DriverSetupError(message, details);
  if (check === 'availability') return new StorageUnavailableError(message, details);
  return new NotFoundError(message, details);
}
