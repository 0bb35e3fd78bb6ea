/**
 * Several real `stowage serve` processes (hosts) on one PostgreSQL database, for the multi-host tests. Every host
 * has backend `b` (the example driver) whose root is the host's own mount point: a symlink to one shared folder,
 * as several machines would mount one NFS export. Cutting a host's storage points its symlink nowhere (every
 * stat, open and mkdir there fails as on an unmounted mount) while the other hosts keep theirs.
 */
import { mkdir, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { parse, stringify } from 'yaml';
import { FAST_INTERVALS, ServiceProcess, freePort, writeConfig } from './service-process.js';

export interface HostSpec {
  readonly name: string;
  /** Example driver options beside `root` (e.g. object_delay_ms). */
  readonly driverOptions?: Record<string, unknown>;
  readonly extra?: Record<string, unknown>;
}

export class Host {
  process: ServiceProcess | undefined;
  /** stderr (the JSON log) of this host's earlier processes. */
  readonly #earlierLogs: string[] = [];
  constructor(
    readonly name: string,
    readonly configPath: string,
    readonly port: number,
    readonly mount: string,
    readonly cluster: Cluster,
  ) {}

  get service(): string {
    return `${this.name}@b`;
  }

  get api(): ServiceProcess {
    if (!this.process) throw new Error(`host ${this.name} is not running`);
    return this.process;
  }

  async start(): Promise<void> {
    if (this.process) this.#earlierLogs.push(this.process.stderr);
    this.process = await ServiceProcess.start(this.configPath, this.port);
  }

  /** Stop (SIGTERM), change the config (`backend` options merged into backend b's), start again. */
  async restartWith(change: { readonly config?: Record<string, unknown>; readonly backend?: Record<string, unknown> }): Promise<void> {
    await this.stop();
    const config = parse(await readFile(this.configPath, 'utf8')) as Record<string, any>;
    Object.assign(config, change.config);
    Object.assign(config.backends[0].options, change.backend);
    await writeFile(this.configPath, stringify(config));
    await this.start();
  }

  async kill(): Promise<void> {
    await this.process?.kill();
  }

  async stop(): Promise<void> {
    await this.process?.stop();
  }

  /** The host loses its storage: its mount point leads nowhere. */
  async cutStorage(): Promise<void> {
    await rm(this.mount, { force: true });
    await symlink(join(this.cluster.dir, 'unmounted', this.name), this.mount);
  }

  async reconnectStorage(): Promise<void> {
    await rm(this.mount, { force: true });
    await symlink(this.cluster.shared, this.mount);
  }

  /** Claim latencies (create accepted -> claimed on the chosen host) this host logged. */
  claimLatencies(): number[] {
    return [...this.#earlierLogs, this.process?.stderr ?? '']
      .join('\n')
      .split('\n')
      .filter((line) => line.includes('"createToClaimMs"'))
      .map((line) => Number((JSON.parse(line) as { createToClaimMs: number }).createToClaimMs));
  }
}

export class Cluster {
  readonly hosts: Host[] = [];
  readonly shared: string;
  readonly volumesDir: string;
  readonly db: pg.Pool;

  private constructor(
    readonly dir: string,
    readonly databaseUrl: string,
  ) {
    this.shared = join(dir, 'shared');
    this.volumesDir = join(dir, 'volumes');
    this.db = new pg.Pool({ connectionString: databaseUrl, max: 3 });
  }

  static async create(dir: string, databaseUrl: string, specs: readonly HostSpec[], common: Record<string, unknown> = {}): Promise<Cluster> {
    const cluster = new Cluster(dir, databaseUrl);
    await mkdir(cluster.shared, { recursive: true });
    await mkdir(join(dir, 'mnt'), { recursive: true });
    for (const spec of specs) {
      const port = await freePort();
      const mount = join(dir, 'mnt', spec.name);
      await symlink(cluster.shared, mount);
      const config = await writeConfig(
        dir,
        {
          host: spec.name,
          ...FAST_INTERVALS,
          service_down_time: 4,
          backup_periodic_initialization: true,
          backup_compression_algorithm: 'none',
          shutdown_grace_period: 2,
          listen: `127.0.0.1:${port}`,
          state_path: join(dir, `state-${spec.name}`),
          volumes_dir: cluster.volumesDir,
          database_url: databaseUrl,
          quota_backups: -1,
          quota_backup_gigabytes: -1,
          quota_volumes: -1,
          quota_gigabytes: -1,
          backends: [{ name: 'b', driver: 'stowage-driver-example', options: { root: mount, ...spec.driverOptions } }],
          ...common,
          ...spec.extra,
        },
        `${spec.name}.yaml`,
      );
      cluster.hosts.push(new Host(spec.name, config, port, mount, cluster));
    }
    // One at a time: the first creates the schema, the others find it.
    for (const host of cluster.hosts) await host.start();
    return cluster;
  }

  host(name: string): Host {
    return this.hosts.find((host) => host.name === name)!;
  }

  async close(): Promise<void> {
    await Promise.all(this.hosts.map((host) => host.kill()));
    await this.db.end();
  }

  async backupRow(id: string): Promise<Record<string, any> | undefined> {
    return (await this.db.query('SELECT * FROM backups WHERE id = $1', [id])).rows[0];
  }

  async query(text: string, values: unknown[] = []): Promise<Record<string, any>[]> {
    return (await this.db.query(text, values)).rows;
  }

  /** Object keys under a backup's prefix in the shared storage (temp files of interrupted writes excluded). */
  async objectsOf(prefix: string, container = 'backups'): Promise<string[]> {
    const folder = join(this.shared, container, ...prefix.split('/'));
    const entries = await readdir(folder, { recursive: true, withFileTypes: true }).catch(() => []);
    return entries.filter((entry) => entry.isFile() && !entry.name.includes('.part-')).map((entry) => join(entry.parentPath, entry.name));
  }

  /** Set a host's services enabled or disabled through one host's API (os-services). */
  async setDisabled(through: Host, names: readonly string[], disabled: boolean): Promise<void> {
    for (const name of names) {
      const response = await through.api.api('PUT', `/os-services/${disabled ? 'disable' : 'enable'}`, { host: `${name}@b`, binary: 'cinder-backup' });
      if (response.status !== 200) throw new Error(`os-services ${disabled ? 'disable' : 'enable'} ${name}: ${response.status}`);
    }
  }
}
