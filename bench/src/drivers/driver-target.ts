import type { ChildRequest, DriverSpec } from '../child/protocol.js';

/**
 * A storage backend to compare the engine against a raw transfer of the same bytes to the same place.
 * Adding a backend means adding one of these to `driver-targets.ts`; a target whose server script or driver
 * package is missing says why in `unavailable()` and is skipped.
 */
export interface DriverTarget {
  readonly name: string;
  /** Undefined when the target can run here; otherwise why it is skipped. */
  unavailable(): Promise<string | undefined>;
  start(directory: string): Promise<StartedTarget>;
}

/**
 * The raw transfer of one round: a request for the bench's Node child (measured like the driver's runs, Node's
 * start-up included), or the backend's own command-line client (`sftp`, `nfs-cp`), measured the same way.
 */
export type RawTransfer = ChildRequest | { readonly command: string; readonly args: readonly string[] };

export interface StartedTarget {
  readonly driver: DriverSpec;
  /** What "raw" means for this backend, printed with the results. */
  readonly rawLabel: string;
  rawTransfer(volumePath: string, chunkSize: number, concurrency: number, round: number): Promise<RawTransfer>;
  /** A fresh container name per run, so runs do not overwrite each other's objects. */
  container(round: number): string;
  stop(): Promise<void>;
}
