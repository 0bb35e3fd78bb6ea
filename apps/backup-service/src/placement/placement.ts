/**
 * The only code that picks a backup host (`<host>@<backend>`) for work: creates, restores, deletes, imports and
 * volumes created from a backup.
 *
 * A candidate is up (heartbeat within service_down_time, driver working), enabled, in the requested availability
 * zone and of the requested backend name (an incremental stays where its parent's data is; restore and delete go
 * to the backup's backend name), not already tried, and reachable (`HostReach`). Among candidates the one with the
 * fewest operations in flight wins, ties broken at random (or by the test hook).
 *
 * Everything it reads is in the database (services rows, backups in flight per host), so placement answers the
 * same on every host sharing one PostgreSQL; the choice is then claimed with a conditional UPDATE by the caller.
 */
import type { Store } from '../db/store.js';
import type { BackupRow, ServiceRow } from '../db/tables.js';
import { BackupStatus } from '../domain/statuses.js';

/**
 * Which up hosts work can be handed to from here. On SQLite work runs in this process, so only its own working
 * backends qualify; on a shared PostgreSQL work reaches hosts through the database, so every up host does.
 */
export interface HostReach {
  serves(host: string): boolean;
  /** Whether `host` is one of this process's backends (an import is verified where it is accepted). */
  isLocal(host: string): boolean;
}

/** A host placement chose, with what the operation needs to know about it. */
export interface PlacedHost {
  /** `<host>@<backend>`. */
  readonly host: string;
  readonly backendName: string;
  readonly availabilityZone: string;
  readonly driverName: string;
}

export interface PlacementOptions {
  readonly store: Store;
  readonly serviceDownTimeMs: number;
  readonly reach: HostReach;
  /** Breaks a tie between equally loaded hosts; random by default (tests pass a deterministic one). */
  readonly pickHost?: ((hosts: readonly string[]) => string) | undefined;
}

export interface CreatePlacementRequest {
  readonly availabilityZone: string | undefined;
  /** The parent's backend name for an incremental. */
  readonly backendName: string | undefined;
  /** Hosts this create already tried. */
  readonly exclude: readonly string[];
}

interface Filter {
  readonly availabilityZone?: string | undefined;
  readonly backendName?: string | undefined;
  readonly driverName?: string | undefined;
  readonly exclude?: readonly string[] | undefined;
  readonly onlyHost?: string | undefined;
  readonly localOnly?: boolean | undefined;
}

export class Placement {
  readonly #options: PlacementOptions;

  constructor(options: PlacementOptions) {
    this.#options = options;
  }

  /** Where a new backup runs. */
  placeCreate(request: CreatePlacementRequest): Promise<PlacedHost | undefined> {
    return this.#place({ availabilityZone: request.availabilityZone, backendName: request.backendName, exclude: request.exclude });
  }

  /** Where a restore of `backup` runs (also a volume created from it): any host of its backend name. */
  placeRestore(backup: Pick<BackupRow, 'backend_name'>): Promise<PlacedHost | undefined> {
    return this.#place({ backendName: backup.backend_name ?? undefined });
  }

  /**
   * Where a delete of `backup` runs: any host of its backend name, except for a create still running, which must
   * be stopped where it runs.
   */
  placeDelete(backup: Pick<BackupRow, 'backend_name' | 'status' | 'host'>): Promise<PlacedHost | undefined> {
    if (backup.status === BackupStatus.Creating) {
      if (backup.host === null) return Promise.resolve(undefined);
      return this.#place({ backendName: backup.backend_name ?? undefined, onlyHost: backup.host });
    }
    return this.#place({ backendName: backup.backend_name ?? undefined });
  }

  /** Where an imported record is verified: the backend the record names, else any backend of the same driver. */
  async placeImport(request: { readonly backendName: string | null; readonly driverName: string }): Promise<PlacedHost | undefined> {
    const named = request.backendName ? await this.#place({ backendName: request.backendName, driverName: request.driverName, localOnly: true }) : undefined;
    return named ?? (await this.#place({ driverName: request.driverName, localOnly: true }));
  }

  /**
   * Hosts whose in-flight operations this process may take over: down (no heartbeat within service_down_time),
   * not this process's own, and of a backend name one of `takers` (this process's working backends) has. The
   * takeover itself is claimed per backup by the caller, so two live hosts never both take one.
   */
  async deadHostsFor(takers: readonly string[]): Promise<Map<string, string>> {
    const { store, serviceDownTimeMs, reach } = this.#options;
    const takerByName = new Map(takers.map((host) => [backendNameOf(host), host]));
    const dead = new Map<string, string>();
    // A host that reported its own backend down is alive and settles its own work (queued creates are placed
    // again, running ones fail); it counts as dead only once silent for three times service_down_time.
    const silentLong = new Date(Date.now() - 3 * serviceDownTimeMs).toISOString();
    for (const service of await store.downServices(serviceDownTimeMs)) {
      const taker = takerByName.get(backendNameOf(service.host));
      const selfReportedDown = service.backend_state === 'down' && service.updated_at !== null && service.updated_at >= silentLong;
      if (taker !== undefined && !reach.isLocal(service.host) && !selfReportedDown) dead.set(service.host, taker);
    }
    return dead;
  }

  async #place(filter: Filter): Promise<PlacedHost | undefined> {
    const candidates = await this.#candidates(filter);
    if (candidates.length === 0) return undefined;
    const load = await this.#options.store.operationsInFlight(candidates.map((service) => service.host));
    const fewest = Math.min(...candidates.map((service) => load.get(service.host) ?? 0));
    const leastLoaded = candidates.filter((service) => (load.get(service.host) ?? 0) === fewest).map((service) => service.host);
    const chosen = this.#options.pickHost?.(leastLoaded) ?? leastLoaded[Math.floor(Math.random() * leastLoaded.length)]!;
    const service = candidates.find((candidate) => candidate.host === chosen)!;
    return {
      host: service.host,
      backendName: backendNameOf(service.host),
      availabilityZone: service.availability_zone,
      driverName: service.driver_name,
    };
  }

  async #candidates(filter: Filter): Promise<ServiceRow[]> {
    const { store, serviceDownTimeMs, reach } = this.#options;
    const excluded = new Set(filter.exclude ?? []);
    const up = await store.upServices({ serviceDownTimeMs, availabilityZone: filter.availabilityZone, backendName: filter.backendName });
    return up.filter(
      (service) =>
        !excluded.has(service.host) &&
        (filter.onlyHost === undefined || service.host === filter.onlyHost) &&
        (filter.driverName === undefined || service.driver_name === filter.driverName) &&
        (!filter.localOnly || reach.isLocal(service.host)) &&
        reach.serves(service.host),
    );
  }
}

/** `node1@b` -> `b`. */
export function backendNameOf(host: string): string {
  return host.slice(host.lastIndexOf('@') + 1);
}
