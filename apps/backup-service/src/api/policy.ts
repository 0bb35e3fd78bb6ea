/**
 * The policy table: Cinder's default rules for what this service serves (cinder/policies/*.py, 21.x).
 * `admin_or_owner` resources are also scoped in the queries: a member only ever finds its own project's rows,
 * so another project's backup answers 404 exactly as Cinder's project-scoped lookups do.
 */
import { PolicyForbidden } from '../domain/errors.js';
import type { RequestContext } from './request-context.js';

export type Rule = 'any' | 'admin_or_owner' | 'admin';

export const POLICIES = {
  'backup:create': 'any',
  'backup:get': 'admin_or_owner',
  'backup:get_all': 'admin_or_owner',
  'backup:update': 'admin_or_owner',
  'backup:delete': 'admin_or_owner',
  'backup:restore': 'admin_or_owner',
  'backup:backup-export': 'admin',
  'backup:backup-import': 'admin',
  'backup:backup_project_attribute': 'admin',
  'backup:backup_all_tenants': 'admin',
  'volume:backup_user_id': 'admin',
  'volume_extension:backup_admin_actions:reset_status': 'admin',
  'volume_extension:backup_admin_actions:force_delete': 'admin',
  'volume:create': 'any',
  'volume:get': 'admin_or_owner',
  'volume:get_all': 'admin_or_owner',
  'volume:update': 'admin_or_owner',
  'volume:delete': 'admin_or_owner',
  'volume:extend': 'admin_or_owner',
  'volume_extension:volume_tenant_attribute': 'admin',
  'volume_extension:volume_host_attribute': 'admin',
  'volume_extension:services:index': 'admin',
  'volume_extension:services:update': 'admin',
  // Stowage's own resources (not Cinder's): live progress, and the status overview of every backend.
  'stowage:operations:get': 'admin_or_owner',
  'stowage:status:get': 'admin',
} as const satisfies Record<string, Rule>;

export type Action = keyof typeof POLICIES;

/** Whether the caller passes `action`'s rule (owner checks are done by the project-scoped lookups). */
export function allowed(context: RequestContext, action: Action): boolean {
  return POLICIES[action] !== 'admin' || context.isAdmin;
}

/** Cinder's PolicyNotAuthorized: 403 "Policy doesn't allow <action> to be performed." */
export function authorize(context: RequestContext, action: Action): void {
  if (!allowed(context, action)) throw new PolicyForbidden(`Policy doesn't allow ${action} to be performed.`);
}
