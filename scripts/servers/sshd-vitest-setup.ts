/**
 * vitest `globalSetup` of @stowage/driver-sftp and the integration package: a throwaway OpenSSH server through
 * sshd.sh, stopped by PID afterwards (see server-vitest-setup.ts).
 * `STOWAGE_SSHD_ENDPOINTS=<state>/endpoints.json` uses a running one. Tests read it with `inject('sshdServer')`.
 */
import type { SshdEndpoints } from '@stowage/testkit';
import { serverGlobalSetup } from './server-vitest-setup.js';

export default serverGlobalSetup<SshdEndpoints>({
  key: 'sshdServer',
  title: 'the SFTP test server (sshd)',
  script: 'sshd.sh',
  envVar: 'STOWAGE_SSHD_ENDPOINTS',
  startTimeoutMs: 300_000,
  stopTimeoutMs: 120_000,
  startNeeds: '(as root)',
  where: (endpoints) => `${endpoints.host}:${endpoints.port}`,
});
