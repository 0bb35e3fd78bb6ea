/**
 * `stowage status` and `stowage wait <backup id>`: read the Stowage status and operations resources of a running
 * service (local or remote) with the API's own auth (an X-Auth-Token; under noauth any `user:project` works).
 */

export interface ClientOptions {
  /** The API's base URL, e.g. http://127.0.0.1:8776. */
  readonly url: string;
  readonly token: string;
  readonly requestTimeoutMs: number;
}

export interface Output {
  write(text: string): void;
  readonly isTTY: boolean;
}

/** `stowage wait`'s exit codes: 0 success, 1 the operation failed, 3 it could not be followed (not found, auth, unreachable, timeout). */
export const EXIT_FAILED = 1;
export const EXIT_UNFOLLOWABLE = 3;

interface OperationBody {
  readonly backup_id: string;
  readonly kind: string;
  readonly host?: string;
  readonly backend: string;
  readonly phase: string;
  readonly bytes_done: number;
  readonly bytes_total: number;
  readonly percent: number | null;
  readonly bytes_per_second: number | null;
  readonly seconds_left: number | null;
}

interface StatusBody {
  readonly backends: ReadonlyArray<{ host: string; state: string; reason: string | null; disabled: boolean; last_heartbeat: string | null }>;
  readonly operations: readonly OperationBody[];
  readonly recent_failures: ReadonlyArray<{ backup_id: string; backend: string | null; fail_reason: string | null; updated_at: string | null }>;
}

interface OperationOfBackup {
  readonly backup: { id: string; status: string; fail_reason: string | null };
  readonly operation: OperationBody | null;
  readonly last_failure: { kind: string; reason: string; at: string } | null;
}

export class ClientError extends Error {
  readonly status: number | undefined;
  constructor(message: string, status?: number, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ClientError';
    this.status = status;
  }
}

async function getJson<T>(options: ClientOptions, path: string): Promise<T> {
  const url = `${options.url.replace(/\/+$/, '')}${path}`;
  let response: Response;
  try {
    response = await fetch(url, { headers: { 'X-Auth-Token': options.token, Accept: 'application/json' }, signal: AbortSignal.timeout(options.requestTimeoutMs) });
  } catch (cause) {
    throw new ClientError(`cannot reach ${url}: ${(cause as Error).message}`, undefined, { cause });
  }
  const text = await response.text();
  if (!response.ok) {
    let message = text.slice(0, 300);
    try {
      const body = JSON.parse(text) as Record<string, { message?: string }>;
      message = Object.values(body)[0]?.message ?? message;
    } catch {
      // not JSON: keep the text
    }
    const hint = response.status === 401 ? ' (pass --token or set OS_AUTH_TOKEN)' : response.status === 403 ? ' (an admin token is needed)' : '';
    throw new ClientError(`GET ${url}: ${response.status} ${message}${hint}`, response.status);
  }
  return JSON.parse(text) as T;
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

function ago(iso: string | null, now: number): string {
  if (iso === null) return 'never';
  const seconds = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  return seconds < 120 ? `${seconds} s ago` : `${Math.round(seconds / 60)} min ago`;
}

export function progressBar(percent: number | null, width = 20): string {
  const filled = percent === null ? 0 : Math.round((Math.min(100, Math.max(0, percent)) / 100) * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
}

function progressText(operation: OperationBody): string {
  const percent = operation.percent === null ? '  ?  ' : `${operation.percent.toFixed(1).padStart(5)}%`;
  const amount = operation.bytes_total > 0 ? `${formatBytes(operation.bytes_done)}/${formatBytes(operation.bytes_total)}` : formatBytes(operation.bytes_done);
  const rate = operation.bytes_per_second === null ? '' : ` ${formatBytes(operation.bytes_per_second)}/s`;
  const left = operation.seconds_left === null ? '' : ` ${operation.seconds_left} s left`;
  return `${progressBar(operation.percent)} ${percent} ${amount}${rate}${left} (${operation.phase})`;
}

/** One line per backend, per running operation and per recent failure. Exit 0 when every backend is up, else 1. */
export async function printStatus(options: ClientOptions, out: Output, now = Date.now()): Promise<number> {
  const status = await getJson<StatusBody>(options, '/v3/stowage/status');
  for (const backend of status.backends) {
    const state = backend.disabled ? `${backend.state} (disabled)` : backend.state;
    const detail = backend.reason ? `  ${backend.reason}` : '';
    out.write(`backend    ${backend.host.padEnd(28)} ${state.padEnd(5)} heartbeat ${ago(backend.last_heartbeat, now)}${detail}\n`);
  }
  for (const operation of status.operations) {
    out.write(`operation  ${operation.backup_id} ${operation.kind.padEnd(11)} ${operation.host ?? operation.backend}  ${progressText(operation)}\n`);
  }
  if (status.operations.length === 0) out.write('operation  none running\n');
  for (const failure of status.recent_failures.slice(0, 5)) {
    out.write(`failed     ${failure.backup_id} ${failure.backend ?? '-'} ${ago(failure.updated_at, now)}: ${failure.fail_reason ?? '(no reason)'}\n`);
  }
  return status.backends.every((backend) => backend.state === 'up') ? 0 : 1;
}

const TRANSIENT = new Set(['creating', 'restoring', 'deleting']);

/**
 * Follow the operation on one backup to its end: a progress bar redrawn in place on a terminal, a plain line per
 * step (phase change or 10 % more) otherwise. 0 when it ended well, 1 when it failed, 3 when it could not be followed.
 */
export async function waitFor(
  backupId: string,
  options: ClientOptions & { readonly intervalMs: number; readonly timeoutMs: number },
  out: Output,
): Promise<number> {
  const started = Date.now();
  const deadline = started + options.timeoutMs;
  let seen = false;
  let lastLine = '';
  let lastStep = -1;
  let drawn = false;
  const endLine = () => {
    if (drawn) out.write('\n');
    drawn = false;
  };
  for (;;) {
    let state: OperationOfBackup;
    try {
      state = await getJson<OperationOfBackup>(options, `/v3/stowage/operations/${encodeURIComponent(backupId)}`);
    } catch (error) {
      // A backup that disappears while we follow its delete has been deleted.
      if (error instanceof ClientError && error.status === 404 && seen) {
        endLine();
        out.write(`backup ${backupId}: deleted\n`);
        return 0;
      }
      endLine();
      out.write(`stowage wait: ${(error as Error).message}\n`);
      return EXIT_UNFOLLOWABLE;
    }
    seen = true;
    const { backup, operation } = state;
    if (operation) {
      const label = `backup ${backupId}: ${operation.kind}`;
      if (out.isTTY) {
        out.write(`\r\x1b[2K${label} ${progressText(operation)}`);
        drawn = true;
      } else {
        const step = operation.percent === null ? 0 : Math.floor(operation.percent / 10);
        const line = `${label} ${operation.phase}`;
        if (line !== lastLine || step > lastStep) {
          out.write(`${label} ${operation.phase} ${operation.percent === null ? '' : `${operation.percent.toFixed(1)}% `}${formatBytes(operation.bytes_done)}/${formatBytes(operation.bytes_total)}\n`);
          lastLine = line;
          lastStep = step;
        }
      }
    } else if (!TRANSIENT.has(backup.status)) {
      endLine();
      const failure = state.last_failure;
      if (failure && Date.parse(failure.at) >= started - 1000) {
        out.write(`backup ${backupId}: ${failure.kind} failed: ${failure.reason}\n`);
        return EXIT_FAILED;
      }
      if (backup.status === 'error' || backup.status === 'error_deleting') {
        out.write(`backup ${backupId}: ${backup.status}: ${backup.fail_reason ?? '(no reason recorded)'}\n`);
        return EXIT_FAILED;
      }
      out.write(`backup ${backupId}: ${backup.status}\n`);
      return 0;
    } else if (!out.isTTY && lastLine !== 'queued') {
      out.write(`backup ${backupId}: ${backup.status}, waiting for the operation to start\n`);
      lastLine = 'queued';
    }
    if (Date.now() > deadline) {
      endLine();
      out.write(`stowage wait: backup ${backupId} still ${backup.status} after ${Math.round(options.timeoutMs / 1000)} s\n`);
      return EXIT_UNFOLLOWABLE;
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs));
  }
}
