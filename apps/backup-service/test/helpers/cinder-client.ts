/** The real OpenStack client (`cinder`, Debian's python3-cinderclient), installed with apt-get when missing. */
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** Undefined when `cinder` is available (installing it if needed and possible), else why not. */
export function ensureCinderClient(): string | undefined {
  if (spawnSync('cinder', ['--version'], { encoding: 'utf8' }).status === 0) return undefined;
  if (process.getuid?.() === 0) {
    const install = () => spawnSync('apt-get', ['install', '-y', '-q', 'python3-cinderclient'], { encoding: 'utf8', timeout: 300_000, env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    let result = install();
    if (result.status !== 0) {
      spawnSync('apt-get', ['update', '-q'], { encoding: 'utf8', timeout: 300_000 });
      result = install();
    }
    if (spawnSync('cinder', ['--version'], { encoding: 'utf8' }).status === 0) return undefined;
    return `apt-get install python3-cinderclient failed: ${(result.stderr || result.stdout).trim().split('\n').slice(-3).join(' ')}`;
  }
  return 'the cinder client is not installed; run: sudo apt-get install -y python3-cinderclient';
}

export class CinderClient {
  constructor(readonly endpoint: string) {}

  /** Run `cinder <args>` with noauth against the endpoint; returns stdout. */
  async run(...args: string[]): Promise<string> {
    const env: NodeJS.ProcessEnv = {};
    for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('OS_') && !key.startsWith('CINDER_')) env[key] = value;
    const { stdout } = await execFileAsync(
      'cinder',
      ['--os-auth-type', 'noauth', '--os-user-id', 'e2e-user', '--os-project-id', 'e2e-project', '--os-endpoint', `${this.endpoint}/v3`, ...args],
      { env, timeout: 60_000 },
    );
    return stdout;
  }

  /** The `Property | Value` table of a show/create command as a record. */
  static properties(output: string): Record<string, string> {
    const record: Record<string, string> = {};
    for (const line of output.split('\n')) {
      const match = /^\|\s*([^|]+?)\s*\|\s*(.*?)\s*\|$/.exec(line);
      if (match && match[1] !== 'Property') record[match[1]!] = match[2]!;
    }
    return record;
  }

  /** Rows of a list table as records keyed by the header. */
  static rows(output: string): Array<Record<string, string>> {
    const lines = output.split('\n').filter((line) => line.startsWith('|'));
    const split = (line: string) => line.slice(1, -1).split('|').map((cell) => cell.trim());
    const [header, ...rest] = lines;
    if (!header) return [];
    const names = split(header);
    return rest.map((line) => Object.fromEntries(split(line).map((cell, i) => [names[i]!, cell])));
  }
}
