/** Reads of backups as the caller may see them: another project's backup is 404 unless the caller is admin. */
import type { BackupListQuery } from '../db/store.js';
import type { BackupRow } from '../db/tables.js';
import { NotFound } from '../domain/errors.js';
import { scopeOf, type Caller, type OperationDeps } from './context.js';

/** Cinder's osapi_max_limit. */
export const MAX_LIMIT = 1000;

export async function findBackup(deps: OperationDeps, caller: Caller, id: string): Promise<BackupRow> {
  const backup = await deps.store.getBackup(id, scopeOf(caller));
  if (!backup) throw new NotFound(`Backup ${id} could not be found.`);
  return backup;
}

export interface BackupPageQuery extends Omit<BackupListQuery, 'limit' | 'offset'> {
  readonly limit: number | undefined;
  readonly offset: number;
  /** The last id of the previous page. */
  readonly marker: string | undefined;
}

export interface BackupPage {
  readonly backups: readonly BackupRow[];
  /** Every backup matching the filters (`with_count`). */
  readonly total: number;
  readonly pageSize: number;
}

/** One page of the filtered, sorted list (limit at most MAX_LIMIT; an unknown marker is 404 as in Cinder). */
export async function listBackups(deps: OperationDeps, query: BackupPageQuery): Promise<BackupPage> {
  const { limit, offset, marker, ...filter } = query;
  const rows = await deps.store.listBackups(filter);
  let start = offset;
  if (marker !== undefined) {
    const index = rows.findIndex((row) => row.id === marker);
    if (index < 0) throw new NotFound(`Marker ${marker} could not be found.`);
    start = index + 1 + offset;
  }
  const pageSize = Math.min(limit ?? MAX_LIMIT, MAX_LIMIT);
  return { backups: rows.slice(start, start + pageSize), total: rows.length, pageSize };
}
