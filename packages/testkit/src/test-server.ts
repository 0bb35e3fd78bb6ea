import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { inject } from 'vitest';
import { serverRequirement, type ServerRequirement } from './server-requirement.js';

const run = promisify(execFile);

/** What every project server script reports: its state folder and the script that controls it. */
export interface ServerEndpointsBase {
  readonly state: string;
  readonly script: string;
}

/** What a package's vitest `globalSetup` provides under its key (e.g. `swiftServer`). */
export type TestServerState<Endpoints extends ServerEndpointsBase> =
  | { readonly available: true; readonly endpoints: Endpoints; readonly startCommand: string }
  | { readonly available: false; readonly reason: string; readonly startCommand: string };

export interface TestServer<Endpoints extends ServerEndpointsBase> {
  readonly requirement: ServerRequirement;
  /** Throws when the server is not available (only called from tests that are not skipped). */
  endpoints(): Endpoints;
  /** Stop or start one process of the server by PID (`<script> stop-server|start-server <state> <name>`), for fault tests. */
  control(action: 'stop-server' | 'start-server', name: string): Promise<void>;
}

/**
 * The server a `globalSetup` started, read with vitest's `inject(key)`. Under `CI=true` a missing server fails the
 * run; elsewhere tests skip with the command that starts it (see `serverRequirement`).
 */
export function testServer<Endpoints extends ServerEndpointsBase>(key: string, label: string): TestServer<Endpoints> {
  const state = inject(key as never) as TestServerState<Endpoints>;
  const requirement = serverRequirement(label, state.available, state.startCommand, state.available ? '' : state.reason);
  const endpoints = (): Endpoints => {
    if (!state.available) throw new Error(requirement.reason);
    return state.endpoints;
  };
  return {
    requirement,
    endpoints,
    async control(action, name) {
      const { script, state: folder } = endpoints();
      await run('bash', [script, action, folder, name], { timeout: 120_000 });
    },
  };
}
