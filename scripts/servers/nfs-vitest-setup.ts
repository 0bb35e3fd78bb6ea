/**
 * vitest `globalSetup` of @stowage/driver-nfs and the integration package: a throwaway NFSv3 server (nfs-ganesha,
 * with rpcbind on loopback) through nfs.sh, stopped by PID afterwards (see server-vitest-setup.ts).
 * `STOWAGE_NFS_ENDPOINTS=<state>/endpoints.json` uses a running one. Tests read it with `inject('nfsServer')`.
 */
import type { ServerEndpointsBase } from '@stowage/testkit';
import { serverGlobalSetup } from './server-vitest-setup.js';

/** What nfs.sh writes to `<state>/endpoints.json`. */
interface NfsEndpoints extends ServerEndpointsBase {
  readonly server: string;
  readonly export: string;
  readonly exportPath: string;
  readonly nfsPort: number;
  readonly mountPort: number;
  readonly url: string;
}

export default serverGlobalSetup<NfsEndpoints>({
  key: 'nfsServer',
  title: 'the NFS test server',
  script: 'nfs.sh',
  envVar: 'STOWAGE_NFS_ENDPOINTS',
  startTimeoutMs: 180_000,
  stopTimeoutMs: 120_000,
  startNeeds: '(as root)',
  where: (endpoints) => endpoints.url,
});
