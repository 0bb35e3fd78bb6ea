/** What the bench parent asks a Stowage child process to do (passed as one JSON argument). */
export interface DriverSpec {
  /** URL of the driver plugin module (its default export is a `DriverPlugin`). */
  readonly module: string;
  readonly options: Record<string, unknown>;
}

/** Overrides of `BackupEngine` options (tuning experiments); empty for the engine as shipped. */
export interface EngineOverrides {
  readonly chunkSize?: number;
  readonly blockSize?: number;
  readonly concurrency?: number;
  readonly compression?: { readonly algorithm: 'none' | 'zlib' | 'zstd'; readonly level?: number };
}

export interface Location {
  readonly container: string;
  readonly prefix: string;
}

export type ChildRequest =
  | {
      readonly op: 'backup';
      readonly driver: DriverSpec;
      readonly engine?: EngineOverrides | undefined;
      readonly volumePath: string;
      readonly volumeId: string;
      readonly backupId: string;
      readonly location: Location;
      readonly parent?: Location | undefined;
      /** Encrypted runs: the data key (bench only: a key on a command line is fine for throwaway data). */
      readonly encryption?: ChildEncryption | undefined;
    }
  | {
      readonly op: 'restore';
      readonly driver: DriverSpec;
      readonly engine?: EngineOverrides | undefined;
      readonly location: Location;
      readonly targetPath: string;
      readonly encryption?: ChildEncryption | undefined;
    }
  /** The volume's bytes through `driver.putObject`, chunk by chunk: no hashing, no compression (the driver's cost). */
  | {
      readonly op: 'driver-put';
      readonly driver: DriverSpec;
      readonly volumePath: string;
      readonly container: string;
      readonly prefix: string;
      readonly chunkSize: number;
      readonly concurrency: number;
    }
  /** The volume's bytes written to one file per chunk with plain fs calls and an fsync each (the floor for posix). */
  | {
      readonly op: 'raw-files';
      readonly volumePath: string;
      readonly directory: string;
      readonly chunkSize: number;
      readonly concurrency: number;
    }
  /** The volume's bytes PUT to Swift with bare fetch calls (tempauth token, one object per chunk). */
  | {
      readonly op: 'raw-swift';
      readonly volumePath: string;
      readonly authUrl: string;
      readonly user: string;
      readonly key: string;
      readonly container: string;
      readonly chunkSize: number;
      readonly concurrency: number;
    }
  /** The volume's bytes through the AWS SDK's PutObject (no driver, no engine), one object per chunk. */
  | {
      readonly op: 'raw-s3-sdk';
      readonly volumePath: string;
      /** URL of @aws-sdk/client-s3 as the s3 driver resolves it. */
      readonly sdkModule: string;
      readonly endpoint: string;
      readonly region: string;
      readonly accessKeyId: string;
      readonly secretAccessKey: string;
      readonly bucket: string;
      readonly chunkSize: number;
      readonly concurrency: number;
    }
  /** The volume's bytes through @google-cloud/storage's single-request `save` (no driver, no engine), one object per chunk. */
  | {
      readonly op: 'raw-gcs-library';
      readonly volumePath: string;
      /** URL of @google-cloud/storage as the gcs driver resolves it. */
      readonly storageModule: string;
      readonly endpoint: string;
      readonly projectId: string;
      readonly bucket: string;
      readonly chunkSize: number;
      readonly concurrency: number;
    }
  /** Single-thread throughput of the engine's building blocks on this machine. */
  | { readonly op: 'micro'; readonly volumePath: string };

/** Summed time spent inside calls; concurrent calls overlap, so sums can exceed the wall time. */
export interface PhaseTimes {
  read_s: number;
  read_calls: number;
  put_s: number;
  put_calls: number;
  get_s: number;
  get_calls: number;
  write_s: number;
  write_calls: number;
  flush_s: number;
}

export interface ChildReport {
  readonly op: ChildRequest['op'];
  /** From process start to the first line of the child's own code (Node boot). */
  readonly boot_s: number;
  /** Loading core and the driver, creating it, `doSetup`. */
  readonly setup_s: number;
  /** The operation itself. */
  readonly work_s: number;
  /** Main-thread event-loop utilisation during the work: near 1 means the main thread is the bottleneck. */
  readonly main_thread_busy: number;
  readonly max_rss_mib: number;
  readonly phases: PhaseTimes;
  readonly result: Record<string, unknown>;
}

export interface ChildEncryption {
  readonly keyId: string;
  readonly keyBase64: string;
}
