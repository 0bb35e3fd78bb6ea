import type { Measured } from '../measure.js';

export type ToolName = 'stowage' | 'restic' | 'borg';
export type BackupKind = 'full' | 'incremental';

export interface ToolRun {
  readonly measured: Measured;
  /** Tool-specific facts worth keeping (Stowage's phase times, restic's summary...). */
  readonly detail?: Record<string, unknown> | undefined;
}

/**
 * One backup tool under test, with its own repository in `directory`. The bench calls, in order: `init`,
 * `backup('full')`, `backup('incremental')`, then `restore` of either backup any number of times.
 */
export interface BenchTool {
  readonly name: ToolName;
  /** How the tool is configured, printed with the results. */
  readonly settings: string;
  init(directory: string): Promise<void>;
  backup(kind: BackupKind, volumePath: string): Promise<ToolRun>;
  /** Restore the chain up to `kind` into a fresh `targetDirectory`; returns the restored volume's path. */
  restore(kind: BackupKind, targetDirectory: string): Promise<ToolRun & { readonly restoredPath: string }>;
  /** Bytes the repository takes now (file sizes summed). */
  repositoryBytes(): Promise<number>;
  version(): Promise<string>;
}
