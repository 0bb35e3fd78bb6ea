/**
 * Options of an NFS backend (`backends[].options`). The client is the package's own userspace NFSv3 client: no
 * kernel mount, no root-only helper.
 */
import { z } from 'zod';

const port = z.number().int().min(1).max(65535);
const id = z.number().int().min(0).max(0xffffffff);
const MiB = 1024 * 1024;

/** A folder below the export: `/`-separated plain names, no `.`/`..`. */
const relativeFolder = z
  .string()
  .refine(
    (value) => value === '' || value.split('/').filter((segment) => segment !== '').every((segment) => segment !== '.' && segment !== '..' && !segment.includes('\0')),
    'must be a folder below the export made of plain names (no "." or ".."), e.g. "stowage/backups"',
  );

export const nfsOptionsSchema = z
  .object({
    /** Host name or address of the NFS server. */
    server: z.string().min(1),
    /** Export path as the server's MOUNT service knows it, e.g. `/backup` (ganesha's Pseudo path). */
    export: z.string().startsWith('/', 'must be an absolute export path, e.g. /backup'),
    /** NFS port; asked from the portmapper when absent. */
    nfs_port: port.optional(),
    /** MOUNT port; asked from the portmapper when absent. */
    mount_port: port.optional(),
    /** Port of the portmapper (rpcbind), used only when nfs_port or mount_port is absent. */
    portmapper_port: port.default(111),
    /** AUTH_SYS identity the server checks permissions against (root squashing applies on the server). */
    uid: id.default(0),
    gid: id.default(0),
    /** Supplementary groups sent with AUTH_SYS. */
    gids: z.array(id).max(16).default([]),
    /** Folder below the export that holds the containers (empty: the export's root). */
    base_dir: relativeFolder.default(''),
    /** Create base_dir (and its parents) in doSetup when missing. */
    create_base_dir: z.boolean().default(true),
    /** Container used when a backup names none: a folder below base_dir. */
    container: z
      .string()
      .regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/, 'must be a plain folder name (letters, digits, "_", "-", "."; not starting with ".")')
      .default('volumebackups'),
    /** Create missing containers. Off: a missing container is a setup error. */
    create_container: z.boolean().default(true),
    /** Seconds one RPC may wait for its answer before it is abandoned (and retried on a new connection). */
    timeout: z.number().positive().max(3600).default(30),
    /** Seconds to wait for a TCP connection. */
    connect_timeout: z.number().positive().max(600).default(5),
    /** Attempts after the first for a dropped connection, a timeout or NFS3ERR_JUKEBOX. */
    retry_attempts: z.number().int().min(0).max(20).default(2),
    /** Seconds before the first retry, doubled for each next one. */
    retry_backoff: z.number().min(0).max(300).default(0.5),
    /** Bytes per WRITE and READ; lowered to the server's FSINFO wtmax/rtmax. */
    io_size: z.number().int().min(4096).max(64 * MiB).default(MiB),
    /** WRITEs (and READs) of one object outstanding at once. */
    requests_in_flight: z.number().int().min(1).max(64).default(8),
    /** Objects written concurrently by the engine. */
    concurrency: z.number().int().min(1).max(64).default(4),
    /** Largest object accepted, in bytes. */
    max_object_size: z.number().int().min(MiB).max(Number.MAX_SAFE_INTEGER).default(1024 * MiB),
    /** Temp files of interrupted writes older than this are removed by doSetup (several hosts may share the export). */
    stale_temp_after_seconds: z.number().int().min(1).max(30 * 24 * 3600).default(3600),
    /** File and folder modes of what the driver creates. */
    file_mode: z.number().int().min(0).max(0o7777).default(0o644),
    dir_mode: z.number().int().min(0).max(0o7777).default(0o755),
  })
  .strict()
  .superRefine((options, ctx) => {
    if ((options.nfs_port === undefined) !== (options.mount_port === undefined)) {
      const missing = options.nfs_port === undefined ? 'nfs_port' : 'mount_port';
      ctx.addIssue({ code: 'custom', path: [missing], message: 'give both nfs_port and mount_port, or neither (the portmapper is then asked)' });
    }
  });

/** Options as the driver receives them, defaults applied. */
export type NfsOptions = z.output<typeof nfsOptionsSchema>;
/** Options as written in the service config. */
export type NfsOptionsInput = z.input<typeof nfsOptionsSchema>;
