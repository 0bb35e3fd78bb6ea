/**
 * Options of an SFTP backend (`backends[].options`). Secrets (the private key, its passphrase) come from a file or
 * an environment variable, never from the config file itself.
 */
import { z } from 'zod';

const FINGERPRINT = /^SHA256:[A-Za-z0-9+/]{43}$/;

export const sftpOptionsSchema = z
  .object({
    host: z.string({ error: 'host is required: the SFTP server, e.g. backup.example.org' }).min(1),
    port: z.number().int().min(1).max(65535).default(22),
    username: z.string({ error: 'username is required: the account the backups are stored as' }).min(1),
    /** A private key file (OpenSSH format, as `ssh-keygen` writes it). */
    private_key_path: z.string().min(1).optional(),
    /** Name of an environment variable holding the private key text, instead of `private_key_path`. */
    private_key_env: z.string().min(1).optional(),
    /** Name of an environment variable holding the key's passphrase, if it has one. */
    passphrase_env: z.string().min(1).optional(),
    /** The server's host key, as `ssh-keygen -l -E sha256 -f <host key>.pub` prints it: `SHA256:...`. */
    host_key_fingerprint: z
      .string()
      .regex(FINGERPRINT, 'host_key_fingerprint must look like SHA256:<43 base64 characters> (ssh-keygen -l -E sha256 -f key.pub)')
      .optional(),
    /** Accept any host key (logged as a warning at every connection): for throwaway tests only. */
    insecure_skip_host_key_check: z.boolean().default(false),
    /** Folder on the server that holds the containers; relative paths start at the login folder. */
    path: z.string().min(1).default('.'),
    /** Create `path` (and parents) at setup when it is missing. */
    create_path: z.boolean().default(true),
    /** Folder under `path` used when a backup names no container. */
    container: z
      .string()
      .regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,254}$/, 'container must be a plain folder name (letters, digits, _ . -)')
      .default('volumebackups'),
    /** Create missing containers. Off: a missing container is a setup error. */
    create_container: z.boolean().default(true),
    /** SSH connections kept open and reused; also the engine's upload parallelism. */
    pool_size: z.number().int().min(1).max(32).default(4),
    /** Seconds to establish a connection (TCP, handshake, authentication). */
    connect_timeout: z.number().positive().max(600).default(10),
    /** Seconds one operation (a whole object's upload or download, a stat, a listing) may take. */
    timeout: z.number().positive().max(3600).default(60),
    /** Attempts per operation after a dropped connection, the first included (a server restart costs one). */
    retry_attempts: z.number().int().min(1).max(10).default(3),
    /** Seconds before the second attempt; doubled before each next one. */
    retry_backoff: z.number().min(0).max(60).default(0.2),
    /** Seconds between SSH keepalives on idle connections (dead ones are noticed and replaced). */
    keepalive_interval: z.number().positive().max(3600).default(15),
  })
  .strict()
  .superRefine((options, ctx) => {
    const keys = [options.private_key_path, options.private_key_env].filter((value) => value !== undefined).length;
    if (keys !== 1) {
      ctx.addIssue({
        code: 'custom',
        path: ['private_key_path'],
        message: 'give exactly one of private_key_path (a key file) or private_key_env (a variable holding the key)',
      });
    }
    if (options.host_key_fingerprint === undefined && !options.insecure_skip_host_key_check) {
      ctx.addIssue({
        code: 'custom',
        path: ['host_key_fingerprint'],
        message:
          'host_key_fingerprint is required so that the server is verified: take it from `ssh-keygen -l -E sha256 -f /etc/ssh/ssh_host_ed25519_key.pub` on the server (or set insecure_skip_host_key_check: true for tests only)',
      });
    }
  });

export type SftpOptions = z.output<typeof sftpOptionsSchema>;
export type SftpOptionsInput = z.input<typeof sftpOptionsSchema>;
