/** The Swift test cluster started by the shared globalSetup, and small admin helpers for the tests. */
import { serverRequirement, type ServerRequirement } from '@stowage/testkit';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { inject } from 'vitest';

const run = promisify(execFile);

export interface SwiftEndpoints {
  readonly state: string;
  readonly script: string;
  readonly proxyUrl: string;
  readonly authUrl: string;
  readonly storageUrl: string;
  readonly user: string;
  readonly key: string;
  readonly s3: { readonly endpoint: string; readonly region: string; readonly accessKeyId: string; readonly secretAccessKey: string };
}

type SwiftServerState =
  | { readonly available: true; readonly endpoints: SwiftEndpoints; readonly startCommand: string }
  | { readonly available: false; readonly reason: string; readonly startCommand: string };

declare module 'vitest' {
  export interface ProvidedContext {
    swiftServer: SwiftServerState;
  }
}

export interface SwiftTestServer {
  readonly requirement: ServerRequirement;
  /** Throws when the server is not available (only called from tests that are not skipped). */
  endpoints(): SwiftEndpoints;
}

export function swiftTestServer(): SwiftTestServer {
  const state = inject('swiftServer');
  const requirement = serverRequirement(
    'the Swift test cluster',
    state.available,
    state.startCommand,
    state.available ? '' : state.reason,
  );
  return {
    requirement,
    endpoints() {
      if (!state.available) throw new Error(requirement.reason);
      return state.endpoints;
    },
  };
}

/** Stop or start one server of the cluster (memcached, account, container, object, proxy) by PID. */
export async function controlServer(endpoints: SwiftEndpoints, action: 'stop-server' | 'start-server', name: string): Promise<void> {
  await run('bash', [endpoints.script, action, endpoints.state, name], { timeout: 60_000 });
}

/** A tempauth token, for test set-up and clean-up done behind the driver's back. */
export async function adminToken(endpoints: SwiftEndpoints): Promise<string> {
  const response = await fetch(endpoints.authUrl, { headers: { 'X-Auth-User': endpoints.user, 'X-Auth-Key': endpoints.key } });
  const token = response.headers.get('x-auth-token');
  if (!response.ok || !token) throw new Error(`test auth failed: HTTP ${response.status}`);
  return token;
}

/** Delete a container and everything in it (404s ignored). */
export async function deleteContainer(endpoints: SwiftEndpoints, container: string): Promise<void> {
  const token = await adminToken(endpoints);
  const base = `${endpoints.storageUrl}/${encodeURIComponent(container)}`;
  for (;;) {
    const listing = await fetch(`${base}?format=json&limit=1000`, { headers: { 'X-Auth-Token': token } });
    if (listing.status === 404) return;
    const names = ((await listing.json()) as Array<{ name: string }>).map((entry) => entry.name);
    if (names.length === 0) break;
    await Promise.all(
      names.map(async (name) => {
        const url = `${base}/${name.split('/').map(encodeURIComponent).join('/')}`;
        const response = await fetch(url, { method: 'DELETE', headers: { 'X-Auth-Token': token } });
        await response.body?.cancel();
      }),
    );
  }
  const response = await fetch(base, { method: 'DELETE', headers: { 'X-Auth-Token': token } });
  await response.body?.cancel();
}
