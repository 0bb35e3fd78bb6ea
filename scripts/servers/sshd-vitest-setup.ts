/**
 * vitest `globalSetup` of @stowage/driver-sftp and the integration package: a throwaway OpenSSH server through
 * sshd.sh, stopped by PID afterwards (see server-vitest-setup.ts).
 * `STOWAGE_SSHD_ENDPOINTS=<state>/endpoints.json` uses a running one. Tests read it with `inject('sshdServer')`.
 */
import { serverGlobalSetup } from './server-vitest-setup.js';

/** What sshd.sh writes to `<state>/endpoints.json`. */
export interface SshdEndpoints {
  readonly state: string;
  readonly script: string;
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly privateKeyPath: string;
  readonly knownHostsPath: string;
  /** `SHA256:<base64>`, as `ssh-keygen -l -E sha256` prints it. */
  readonly hostKeyFingerprint: string;
  readonly hostKeyBase64: string;
  /** The login's start folder (`ForceCommand internal-sftp -d`). */
  readonly dataDir: string;
  readonly pid: number;
}

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
