/** os-services: the backup services (one per backend) and enabling or disabling them. */
import type { ServiceRow } from '../db/tables.js';
import { NotFound } from '../domain/errors.js';
import type { OperationDeps } from './context.js';

export function listServices(deps: OperationDeps, filter: { readonly host?: string | undefined; readonly binary?: string | undefined }): Promise<ServiceRow[]> {
  return deps.store.listServices(filter);
}

/** A disabled backend gets no new work: placement skips disabled services; its running operations finish. */
export async function setServiceDisabled(
  deps: OperationDeps,
  request: { readonly host: string; readonly binary: string; readonly disabled: boolean; readonly reason: string | null },
): Promise<void> {
  if ((await deps.store.setServiceDisabled(request.host, request.binary, request.disabled, request.reason)) === 0) {
    throw new NotFound(`Service ${request.binary} could not be found.`);
  }
}
