/**
 * The backup service with an NFS backend on the test nfs-ganesha (the driver's own userspace NFSv3 client): up, a
 * byte-identical 256 MiB round trip through the API, down within service_down_time when ganesha stops (a backup
 * created meanwhile fails clearly), and up again through periodic initialisation when it comes back.
 */
import { testServer } from '@stowage/testkit';
import { describeSingleBackendService } from './service-scenario.js';

/** The fields of scripts/servers/nfs.sh's endpoints.json this test reads. */
interface NfsEndpoints {
  readonly state: string;
  readonly script: string;
  readonly server: string;
  readonly export: string;
  readonly nfsPort: number;
  readonly mountPort: number;
}

const server = testServer<NfsEndpoints>('nfsServer', 'the NFS test server (nfs-ganesha)');

describeSingleBackendService({
  label: 'nfs',
  title: 'an NFS backend',
  serverName: 'ganesha',
  available: server.requirement.available,
  backend: { name: 'nfs1', zone: 'zone-nfs', driver: '@stowage/driver-nfs' },
  options: (port) => {
    const endpoints = server.endpoints();
    return {
      server: endpoints.server,
      export: endpoints.export,
      nfs_port: endpoints.nfsPort,
      mount_port: endpoints.mountPort,
      base_dir: `stowage-it-nfs-${port}`,
      timeout: 10,
      connect_timeout: 2,
      retry_attempts: 1,
      retry_backoff: 0.2,
    };
  },
  control: (action) => server.control(action, 'ganesha'),
  timeoutMs: 180_000,
});
