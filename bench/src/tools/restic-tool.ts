import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { onlyFileUnder, treeBytes } from '../fs-util.js';
import { runMeasured, runPlain } from '../measure.js';
import type { BackupKind, BenchTool, ToolRun } from './tool.js';

/**
 * restic from Debian, repository format v2 with `--compression auto` (zstd). restic always encrypts; its key
 * derivation (scrypt) runs on every command and counts, as it does for a user.
 */
export class ResticTool implements BenchTool {
  readonly name = 'restic' as const;
  readonly settings: string;
  #repository = '';
  #env: Record<string, string> = {};
  readonly #snapshots = new Map<BackupKind, string>();
  readonly #sparseRestore: boolean;

  /** The file each snapshot holds, by its absolute path as restic records it. */
  readonly #volumePaths = new Map<BackupKind, string>();

  /**
   * `sparseRestore`: zero runs become holes, as the sparse scenario needs. restic 0.14's `restore` has no
   * `--sparse` (0.15 added it), so the file is `restic dump`ed into `cp --sparse=always`, which writes no zeros.
   */
  constructor(options: { readonly sparseRestore?: boolean } = {}) {
    this.#sparseRestore = options.sparseRestore ?? false;
    const restore = this.#sparseRestore ? 'restore by restic dump | cp --sparse=always' : 'restore without --verify';
    this.settings = `repo v2, --compression auto (zstd), local repository, own cache dir; ${restore}`;
  }

  async init(directory: string): Promise<void> {
    await mkdir(directory, { recursive: true });
    this.#repository = join(directory, 'repository');
    this.#env = {
      RESTIC_REPOSITORY: this.#repository,
      RESTIC_PASSWORD: 'stowage-bench',
      RESTIC_CACHE_DIR: join(directory, 'cache'),
      RESTIC_PROGRESS_FPS: '0.1',
    };
    this.#snapshots.clear();
    await runPlain('restic', ['init', '--repository-version', '2'], { env: this.#env });
  }

  async backup(kind: BackupKind, volumePath: string): Promise<ToolRun> {
    const measured = await runMeasured('restic', ['backup', '--compression', 'auto', '--host', 'bench', '--json', volumePath], {
      env: this.#env,
    });
    const summary = lastJsonLine(measured.stdout, 'summary');
    const snapshot = summary['snapshot_id'];
    if (typeof snapshot !== 'string') throw new Error(`restic backup printed no snapshot id:\n${measured.stdout.slice(-2000)}`);
    this.#snapshots.set(kind, snapshot);
    this.#volumePaths.set(kind, resolve(volumePath));
    // files_changed 1 (not files_new) shows restic found the parent snapshot for the incremental.
    const detail = { snapshot, data_added: summary['data_added'], files_new: summary['files_new'], files_changed: summary['files_changed'] };
    return { measured, detail };
  }

  async restore(kind: BackupKind, targetDirectory: string) {
    const snapshot = this.#snapshots.get(kind);
    if (snapshot === undefined) throw new Error(`restic: no ${kind} snapshot to restore`);
    await mkdir(targetDirectory, { recursive: true });
    if (this.#sparseRestore) {
      const restoredPath = join(targetDirectory, 'volume.img');
      // GNU time's figures for the shell include the two processes it waited for.
      const pipeline = 'set -o pipefail; restic dump "$1" "$2" | cp --sparse=always /dev/stdin "$3"';
      const measured = await runMeasured('bash', ['-c', pipeline, 'restic-dump', snapshot, this.#volumePaths.get(kind)!, restoredPath], { env: this.#env });
      return { measured, restoredPath };
    }
    const measured = await runMeasured('restic', ['restore', snapshot, '--target', targetDirectory], { env: this.#env });
    return { measured, restoredPath: await onlyFileUnder(targetDirectory) };
  }

  repositoryBytes(): Promise<number> {
    return treeBytes(this.#repository);
  }

  async version(): Promise<string> {
    return (await runPlain('restic', ['version'])).trim();
  }
}

function lastJsonLine(output: string, messageType: string): Record<string, unknown> {
  for (const line of output.trim().split('\n').reverse()) {
    try {
      const value = JSON.parse(line) as Record<string, unknown>;
      if (value['message_type'] === messageType) return value;
    } catch {
      // progress lines that are not JSON
    }
  }
  return {};
}
