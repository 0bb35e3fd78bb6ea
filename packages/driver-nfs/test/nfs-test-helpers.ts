/** The NFS test server that `scripts/servers/nfs.sh` starts (read through vitest's `inject`), and driver factories. */
import { createFromPlugin, testServer, type ServerEndpointsBase, type TestServer } from '@stowage/testkit';
import type { StorageDriver } from '@stowage/driver-contract';
import plugin from '../src/index.js';

/** What nfs.sh writes to `<state>/endpoints.json`. */
export interface NfsEndpoints extends ServerEndpointsBase {
  readonly server: string;
  readonly export: string;
  /** The exported folder on this machine (read only by tests, never changed behind ganesha's back). */
  readonly exportPath: string;
  readonly nfsPort: number;
  readonly mountPort: number;
  /** `nfs://127.0.0.1/backup?nfsport=P&mountport=P`, for libnfs-utils (`nfs-ls`, `nfs-cp`). */
  readonly url: string;
}

export function nfsTestServer(): TestServer<NfsEndpoints> {
  return testServer<NfsEndpoints>('nfsServer', 'the NFS test server');
}

/** Options for the test server: its ports, two quick retries, 20 s per RPC. */
export function nfsOptions(endpoints: NfsEndpoints): Record<string, unknown> {
  return {
    server: endpoints.server,
    export: endpoints.export,
    nfs_port: endpoints.nfsPort,
    mount_port: endpoints.mountPort,
    retry_attempts: 2,
    retry_backoff: 0.05,
    timeout: 20,
    connect_timeout: 5,
  };
}

/** A driver made through the plugin's schema, on the test server, with `overrides`. */
export function createNfsDriver(endpoints: NfsEndpoints, backendName: string, overrides: Record<string, unknown> = {}): Promise<StorageDriver> {
  return createFromPlugin(plugin, { ...nfsOptions(endpoints), ...overrides }, { backendName });
}
