/**
 * Stowage's own read-only resources beside the Cinder API: the live progress of running operations (admin: all;
 * member: its project's) and the status overview behind `stowage status` and the status page (admin).
 */
import type { FastifyInstance } from 'fastify';
import type { ApiDependencies } from '../api-deps.js';
import { getOperationProgress, listOperationProgress, serviceStatus } from '../../operations/observability.js';
import { backendStatusView, backupStateView, failureView, operationView, recentFailureView } from '../observability-views.js';
import { authorize } from '../policy.js';
import { callerOf } from '../request-context.js';
import { v3Route } from './register.js';

export function registerStowageRoutes(app: FastifyInstance, deps: ApiDependencies): void {
  v3Route(app, 'GET', 'stowage/operations', async (request) => {
    authorize(request.stowage, 'stowage:operations:get');
    const caller = callerOf(request);
    const operations = await listOperationProgress(deps.operations, caller);
    return { operations: operations.map((operation) => operationView(operation, caller.isAdmin)) };
  });

  v3Route(app, 'GET', 'stowage/operations/:backup_id', async (request) => {
    authorize(request.stowage, 'stowage:operations:get');
    const caller = callerOf(request);
    const { backup_id: backupId } = request.params as { backup_id: string };
    const { backup, operation, lastFailure } = await getOperationProgress(deps.operations, caller, backupId);
    return {
      backup: backupStateView(backup, caller.isAdmin),
      operation: operation === null ? null : operationView(operation, caller.isAdmin),
      last_failure: lastFailure === null ? null : recentFailureView(lastFailure, caller.isAdmin),
    };
  });

  v3Route(app, 'GET', 'stowage/status', async (request) => {
    authorize(request.stowage, 'stowage:status:get');
    callerOf(request);
    const status = await serviceStatus(deps.operations);
    const now = Date.now();
    return {
      backends: status.services.map((service) => backendStatusView(service, deps.config.serviceDownTimeMs, now)),
      operations: status.operations.map((operation) => operationView(operation, true)),
      recent_failures: status.recentFailures.map(failureView),
      generated_at: new Date(now).toISOString(),
    };
  });
}
