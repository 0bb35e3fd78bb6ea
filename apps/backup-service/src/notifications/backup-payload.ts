import type { BackupUsagePayload } from '@stowage/core';
import type { BackupRow } from '../db/tables.js';

/** Cinder's backup usage payload (reference 1.8) from a backup row. */
export function backupUsagePayload(backup: BackupRow): BackupUsagePayload {
  return {
    tenant_id: backup.project_id,
    user_id: backup.user_id,
    availability_zone: backup.availability_zone,
    backup_id: backup.id,
    host: backup.host,
    display_name: backup.display_name,
    created_at: toCinderTime(backup.created_at),
    status: backup.status,
    volume_id: backup.volume_id,
    size: backup.size,
    service_metadata: backup.service_metadata,
    service: backup.service,
    fail_reason: backup.fail_reason,
    parent_id: backup.parent_id,
    num_dependent_backups: backup.num_dependent_backups,
    snapshot_id: backup.snapshot_id,
  };
}

/** `2026-11-26T03:48:03.123Z` -> Cinder's `2026-11-26T03:48:03.123000`. */
export function toCinderTime(iso: string): string;
export function toCinderTime(iso: string | null): string | null;
export function toCinderTime(iso: string | null): string | null {
  if (iso === null) return null;
  return iso.replace(/\.(\d{3})Z$/, '.$1000').replace(/Z$/, '');
}
