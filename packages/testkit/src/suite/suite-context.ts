import type { StorageDriver } from '@stowage/core';

/** What every contract group reads: the driver under test, created once by the suite, and a scratch folder. */
export interface SuiteContext {
  /** Shown in test names, e.g. `posix`. */
  readonly name: string;
  readonly driver: () => StorageDriver;
  /** The driver's default container, which the suite's unique prefixes share. */
  readonly container: () => string;
  /** A fresh key prefix, so that one container serves every test of a run. */
  readonly unique: (label: string) => string;
  /** A folder for volume files, removed after the suite. */
  readonly workDir: () => string;
  readonly volumeSize: number;
  readonly createBrokenDriver: () => StorageDriver | Promise<StorageDriver>;
}
