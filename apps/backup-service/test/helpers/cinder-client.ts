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

/** How the client authenticates: Cinder's noauth (`user:project`) or a static token (`admin_token`). */
export type CinderAuth =
  | { readonly type: 'noauth'; readonly userId: string; readonly projectId: string }
  | { readonly type: 'token'; readonly token: string; readonly projectId: string };

export class CinderClient {
  constructor(
    readonly endpoint: string,
    readonly auth: CinderAuth = { type: 'noauth', userId: 'e2e-user', projectId: 'e2e-project' },
  ) {}

  /** The HTTP headers the client sends for this auth, for polling the API directly (faster than the CLI). */
  get headers(): Record<string, string> {
    return { 'X-Auth-Token': this.auth.type === 'noauth' ? `${this.auth.userId}:${this.auth.projectId}` : this.auth.token };
  }

  /** Run `cinder <args>` against the endpoint; returns stdout. */
  async run(...args: string[]): Promise<string> {
    const env: NodeJS.ProcessEnv = {};
    for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('OS_') && !key.startsWith('CINDER_')) env[key] = value;
    const auth =
      this.auth.type === 'noauth'
        ? ['--os-auth-type', 'noauth', '--os-user-id', this.auth.userId, '--os-project-id', this.auth.projectId]
        : ['--os-auth-type', 'admin_token', '--os-token', this.auth.token, '--os-project-id', this.auth.projectId];
    const { stdout } = await execFileAsync('cinder', [...auth, '--os-endpoint', `${this.endpoint}/v3`, ...args], { env, timeout: 60_000 });
    return stdout;
  }

  /** Run a command expected to fail; returns what it printed (some errors go to stdout, some to stderr). */
  async fail(...args: string[]): Promise<string> {
    try {
      await this.run(...args);
    } catch (error) {
      const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
      return `${stdout}${stderr}` || String(error);
    }
    throw new Error(`cinder ${args.join(' ')} succeeded; a failure was expected`);
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
