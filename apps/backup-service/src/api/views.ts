/** Response bodies shaped as Cinder's view builders, by microversion. */
import type { BackupRow, ServiceRow, VolumeRow } from '../db/tables.js';
import { memberFailReason } from '../domain/fail-reason.js';
import { toCinderTime } from '../notifications/backup-payload.js';
import { atLeast, type Microversion } from './microversion.js';

export function links(base: string, projectId: string, collection: string, id: string) {
  return [
    { rel: 'self', href: `${base}/v3/${projectId}/${collection}/${id}` },
    { rel: 'bookmark', href: `${base}/${projectId}/${collection}/${id}` },
  ];
}

export function backupSummary(backup: BackupRow, base: string) {
  return { id: backup.id, name: backup.display_name, links: links(base, backup.project_id, 'backups', backup.id) };
}

/** Which policy-gated fields the caller may see (admin-only by default). */
export interface BackupFieldAccess {
  readonly projectAttribute: boolean;
  readonly userId: boolean;
  /** fail_reason as stored (admins); others see it without paths and URLs. */
  readonly failReasonDetail: boolean;
}

export function backupDetail(backup: BackupRow, base: string, version: Microversion, access: BackupFieldAccess) {
  const view: Record<string, unknown> = {
    id: backup.id,
    status: backup.status,
    size: backup.size,
    object_count: backup.object_count,
    availability_zone: backup.availability_zone,
    container: backup.container,
    created_at: toCinderTime(backup.created_at),
    updated_at: toCinderTime(backup.updated_at),
    name: backup.display_name,
    description: backup.display_description,
    fail_reason: access.failReasonDetail ? backup.fail_reason : memberFailReason(backup.fail_reason),
    volume_id: backup.volume_id,
    links: links(base, backup.project_id, 'backups', backup.id),
    is_incremental: backup.parent_id !== null,
    has_dependent_backups: backup.num_dependent_backups > 0,
    snapshot_id: backup.snapshot_id,
    data_timestamp: toCinderTime(backup.data_timestamp),
  };
  if (atLeast(version, 18) && access.projectAttribute) view['os-backup-project-attr:project_id'] = backup.project_id;
  if (atLeast(version, 43)) view.metadata = parseJsonObject(backup.metadata);
  if (atLeast(version, 56) && access.userId) view.user_id = backup.user_id;
  if (atLeast(version, 64)) view.encryption_key_id = backup.encryption_key_id;
  return view;
}

/**
 * Cinder's volume view. `extended` adds what Cinder's API extensions add to show and list-detail only (migration
 * status, tenant and host); create and update answer without them, and tempest's schemas refuse them there.
 */
export function volumeDetail(
  volume: VolumeRow,
  base: string,
  version: Microversion,
  isAdmin: boolean,
  serviceHost = 'stowage@volumes#volumes',
  extended = true,
) {
  const view: Record<string, unknown> = {
    id: volume.id,
    status: volume.status,
    size: volume.size,
    availability_zone: volume.availability_zone,
    created_at: toCinderTime(volume.created_at),
    updated_at: toCinderTime(volume.updated_at),
    name: volume.display_name,
    description: volume.display_description,
    volume_type: null,
    snapshot_id: null,
    source_volid: null,
    metadata: parseJsonObject(volume.metadata),
    links: links(base, volume.project_id, 'volumes', volume.id),
    user_id: volume.user_id,
    bootable: volume.bootable ? 'true' : 'false',
    encrypted: false,
    attachments: [],
    multiattach: false,
    replication_status: null,
    consistencygroup_id: null,
  };
  if (extended) {
    view['os-vol-mig-status-attr:migstat'] = null;
    view['os-vol-mig-status-attr:name_id'] = null;
  }
  // Admin-only attributes (volume_extension:volume_tenant_attribute / volume_host_attribute); the host matches
  // tempest's pattern `.+@.+#.+`.
  if (extended && isAdmin) {
    view['os-vol-tenant-attr:tenant_id'] = volume.project_id;
    view['os-vol-host-attr:host'] = serviceHost;
  }
  if (atLeast(version, 13)) view.group_id = null;
  return view;
}

export function volumeSummary(volume: VolumeRow, base: string) {
  return { id: volume.id, name: volume.display_name, links: links(base, volume.project_id, 'volumes', volume.id) };
}

/** Stowage's request header that opts in to keys Cinder's documents do not have (tempest refuses unknown keys). */
export const EXTENSIONS_HEADER = 'x-stowage-extensions';

/** Whether the request asked for the Stowage extension `name` (`X-Stowage-Extensions: a, b`). */
export function wantsExtension(header: string | string[] | undefined, name: string): boolean {
  const values = Array.isArray(header) ? header : header === undefined ? [] : [header];
  return values.some((value) => value.split(',').some((item) => item.trim().toLowerCase() === name));
}

export function serviceView(
  service: ServiceRow,
  version: Microversion,
  serviceDownTimeMs: number,
  options: { readonly backendStateReason?: boolean } = {},
  now = Date.now(),
) {
  const lastSeen = service.updated_at ?? service.created_at;
  const heartbeatFresh = service.updated_at !== null && Math.abs(now - Date.parse(service.updated_at)) <= serviceDownTimeMs;
  // Down at once when the driver failed: a failed setup never waits out service_down_time.
  const up = service.backend_state === 'up' && heartbeatFresh;
  const updated = service.modified_at && service.modified_at > lastSeen ? service.modified_at : lastSeen;
  const view: Record<string, unknown> = {
    binary: service.binary,
    host: service.host,
    zone: service.availability_zone,
    status: service.disabled ? 'disabled' : 'enabled',
    state: up ? 'up' : 'down',
    updated_at: toCinderTime(updated),
    disabled_reason: service.disabled_reason,
  };
  if (atLeast(version, 7)) view.cluster = null;
  if (atLeast(version, 49)) {
    view.backend_state = service.backend_state === 'up' ? 'up' : 'down';
  }
  if (atLeast(version, 49) && options.backendStateReason) {
    // Opt-in only: `initializing` before the first setup finishes, `stopped` after a clean shutdown, else the failure.
    view.backend_state_reason = service.backend_state === 'up' ? null : (service.backend_state_reason ?? service.backend_state);
  }
  return view;
}

function parseJsonObject(text: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}
