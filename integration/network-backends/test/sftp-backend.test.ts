/**
 * The backup service with an SFTP backend on the test sshd: up, a byte-identical 256 MiB round trip through the
 * API, down within service_down_time when sshd stops (a backup created meanwhile fails clearly), and up again
 * through periodic initialisation when it comes back.
 */
import { testServer, type SshdEndpoints } from '@stowage/testkit';
import { describeSingleBackendService } from './service-scenario.js';

const server = testServer<SshdEndpoints>('sshdServer', 'the SFTP test server (sshd)');

describeSingleBackendService({
  label: 'sftp',
  title: 'an SFTP backend',
  serverName: 'sshd',
  available: server.requirement.available,
  backend: { name: 'sftp1', zone: 'zone-sftp', driver: '@stowage/driver-sftp' },
  options: () => {
    const { host, port, user, privateKeyPath, hostKeyFingerprint } = server.endpoints();
    return {
      host,
      port,
      username: user,
      private_key_path: privateKeyPath,
      host_key_fingerprint: hostKeyFingerprint,
      path: 'stowage-it-sftp',
      timeout: 30,
      connect_timeout: 2,
      retry_attempts: 1,
    };
  },
  control: (action) => server.control(action, 'sshd'),
  timeoutMs: 180_000,
});
