import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runPlain } from '../measure.js';
import { REPO_ROOT } from '../options.js';

/** A script under scripts/servers/ with the shape of swift.sh: `start <state> [--watch-pid P]`, `stop <state>`. */
export interface ServerScript {
  readonly file: string;
  /** `bash` for the shell scripts, `node` for the .mjs ones (run with this Node). */
  readonly runner: 'bash' | 'node';
}

export interface RunningServer<Endpoints> {
  /** What the script wrote to <state>/endpoints.json. */
  readonly endpoints: Endpoints;
  /** Stops the server by the PIDs the script recorded in its state folder. */
  stop(): Promise<void>;
}

export function serverScriptPath(script: ServerScript): string {
  return join(REPO_ROOT, 'scripts', 'servers', script.file);
}

function run(script: ServerScript, args: readonly string[], timeoutMs: number): Promise<string> {
  const command = script.runner === 'node' ? process.execPath : 'bash';
  return runPlain(command, [serverScriptPath(script), ...args], { timeoutMs });
}

/**
 * Start the server into `state` and read its endpoints. `--watch-pid` with the bench's own PID makes the script stop
 * the server by itself should the bench be killed before its `stop()`; a start that fails half-way is stopped here.
 */
export async function startServerScript<Endpoints>(script: ServerScript, state: string): Promise<RunningServer<Endpoints>> {
  const stop = async () => {
    await run(script, ['stop', state], 5 * 60 * 1000);
  };
  try {
    await run(script, ['start', state, '--watch-pid', String(process.pid)], 10 * 60 * 1000);
    const endpoints = JSON.parse(await readFile(join(state, 'endpoints.json'), 'utf8')) as Endpoints;
    return { endpoints, stop };
  } catch (error) {
    await stop().catch(() => undefined);
    // The script's last words say why (not installed and not root, a port in use); the whole output is the cause.
    const lines = (error as Error).message.trim().split('\n');
    throw new Error(`scripts/servers/${script.file} start failed: ${lines[lines.length - 1]}`, { cause: error });
  }
}
