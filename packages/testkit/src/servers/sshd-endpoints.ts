/** What scripts/servers/sshd.sh writes to `<state>/endpoints.json`: its globalSetup, the SFTP tests and the bench read it. */
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
