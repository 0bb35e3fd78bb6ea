import { defaultBackupPrefix } from '@stowage/core';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChildReport, ChildRequest, DriverSpec, EngineOverrides, Location } from '../child/protocol.js';
import { treeBytes } from '../fs-util.js';
import { runMeasured } from '../measure.js';
import type { BackupKind, BenchTool, ToolRun } from './tool.js';

const CHILD_SCRIPT = fileURLToPath(new URL('../child/stowage-run.js', import.meta.url));
const CONTAINER = 'bench';
const VOLUME_ID = 'bench-volume';

/** Environment added to every Stowage child (`--stowage-env`), for tuning experiments such as UV_THREADPOOL_SIZE. */
let childEnvironment: Record<string, string> = {};
/** Engine option overrides for every Stowage backup and restore (`--engine-options`); none by default. */
let engineOverrides: EngineOverrides | undefined;
export function configureStowageChildren(environment: Record<string, string>, engine: EngineOverrides | undefined): void {
  childEnvironment = { ...environment };
  engineOverrides = engine;
}

export interface StowageChildOptions {
  /** Extra node flags for the child, e.g. `--cpu-prof`. */
  readonly nodeFlags?: readonly string[] | undefined;
}

/** Run one Stowage operation in a fresh Node process under GNU time; returns the measurement and the child's report. */
export async function runStowageChild(request: ChildRequest, options: StowageChildOptions = {}): Promise<ToolRun & { report: ChildReport }> {
  const measured = await runMeasured(process.execPath, [...(options.nodeFlags ?? []), CHILD_SCRIPT, JSON.stringify(request)], {
    env: childEnvironment,
  });
  const line = measured.stdout.trim().split('\n').pop() ?? '';
  const report = JSON.parse(line) as ChildReport;
  return { measured, report, detail: { ...report } };
}

export function posixDriverSpec(repository: string): DriverSpec {
  return { module: import.meta.resolve('@stowage/driver-posix'), options: { path: repository, create_path: true } };
}

export function backupLocation(kind: BackupKind): Location {
  return { container: CONTAINER, prefix: defaultBackupPrefix(VOLUME_ID, kind) };
}

/** Stowage's engine with the posix driver, as shipped: default chunk size, compression and concurrency. */
export class StowageTool implements BenchTool {
  readonly name = 'stowage' as const;
  readonly settings = 'BackupEngine defaults (zstd level 1, 8 MiB chunks, 32 KiB blocks), posix driver';
  #repository = '';
  #nodeFlags: readonly string[] = [];

  constructor(options: StowageChildOptions = {}) {
    this.#nodeFlags = options.nodeFlags ?? [];
  }

  async init(directory: string): Promise<void> {
    this.#repository = join(directory, 'repository');
    await mkdir(directory, { recursive: true });
  }

  async backup(kind: BackupKind, volumePath: string): Promise<ToolRun> {
    return runStowageChild(
      {
        op: 'backup',
        driver: posixDriverSpec(this.#repository),
        engine: engineOverrides,
        volumePath,
        volumeId: VOLUME_ID,
        backupId: kind,
        location: backupLocation(kind),
        parent: kind === 'incremental' ? backupLocation('full') : undefined,
      },
      { nodeFlags: this.#nodeFlags },
    );
  }

  async restore(kind: BackupKind, targetDirectory: string) {
    await mkdir(targetDirectory, { recursive: true });
    const restoredPath = join(targetDirectory, 'volume.img');
    const run = await runStowageChild(
      {
        op: 'restore',
        driver: posixDriverSpec(this.#repository),
        engine: engineOverrides,
        location: backupLocation(kind),
        targetPath: restoredPath,
      },
      { nodeFlags: this.#nodeFlags },
    );
    return { ...run, restoredPath };
  }

  repositoryBytes(): Promise<number> {
    return treeBytes(this.#repository);
  }

  async version(): Promise<string> {
    return `node ${process.version}`;
  }
}
