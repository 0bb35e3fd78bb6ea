import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { onlyFileUnder, treeBytes } from '../fs-util.js';
import { runMeasured, runPlain } from '../measure.js';
import type { BackupKind, BenchTool, ToolRun } from './tool.js';

/** borg 1.2 from Debian, `-C lz4`, no encryption (Stowage does not encrypt either), extract with `--sparse`. */
export class BorgTool implements BenchTool {
  readonly name = 'borg' as const;
  readonly settings = 'encryption none, -C lz4, default chunker, extract --sparse';
  #repository = '';
  #env: Record<string, string> = {};

  async init(directory: string): Promise<void> {
    await mkdir(directory, { recursive: true });
    this.#repository = join(directory, 'repository');
    this.#env = {
      // Keeps borg's cache and security folders inside the round's directory.
      BORG_BASE_DIR: join(directory, 'home'),
      BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK: 'yes',
      BORG_RELOCATED_REPO_ACCESS_IS_OK: 'yes',
    };
    await runPlain('borg', ['init', '--encryption', 'none', this.#repository], { env: this.#env });
  }

  async backup(kind: BackupKind, volumePath: string): Promise<ToolRun> {
    const measured = await runMeasured('borg', ['create', '--compression', 'lz4', '--json', `${this.#repository}::${kind}`, volumePath], {
      env: this.#env,
    });
    let stats: unknown;
    try {
      stats = (JSON.parse(measured.stdout) as { archive?: { stats?: unknown } }).archive?.stats;
    } catch {
      stats = undefined;
    }
    return { measured, detail: { stats } };
  }

  async restore(kind: BackupKind, targetDirectory: string) {
    await mkdir(targetDirectory, { recursive: true });
    const measured = await runMeasured('borg', ['extract', '--sparse', `${this.#repository}::${kind}`], {
      env: this.#env,
      cwd: targetDirectory,
    });
    return { measured, restoredPath: await onlyFileUnder(targetDirectory) };
  }

  repositoryBytes(): Promise<number> {
    return treeBytes(this.#repository);
  }

  async version(): Promise<string> {
    return (await runPlain('borg', ['--version'])).trim();
  }
}
