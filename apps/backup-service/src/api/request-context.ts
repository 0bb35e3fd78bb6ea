import type { FastifyRequest } from 'fastify';
import { ApiFault } from './faults.js';
import type { Caller } from '../operations/context.js';
import type { Microversion } from './microversion.js';

/** Who is calling and at which microversion; set by the auth and version hooks. */
export interface RequestContext {
  readonly userId: string;
  readonly projectId: string;
  readonly roles: readonly string[];
  readonly isAdmin: boolean;
  readonly version: Microversion;
}

declare module 'fastify' {
  interface FastifyRequest {
    stowage: RequestContext;
  }
}

/** `http://host:port`, as the client reached us, for links. */
export function baseUrl(request: FastifyRequest): string {
  return `${request.protocol}://${request.host}`;
}

/**
 * The project a request acts as: always the token's (new resources belong to it; lookups of a non-admin are
 * scoped to it). The URL's `{project_id}` must match it unless the caller is an admin, whose URL names its own
 * project while it acts on other projects' resources by id (as tempest's admin tests do).
 */
export function projectOf(request: FastifyRequest): string {
  const params = request.params as { project_id?: string };
  const { projectId, isAdmin } = request.stowage;
  if (params.project_id !== undefined && params.project_id !== projectId && !isAdmin) {
    throw new ApiFault(400, `Malformed request URL: URL's project_id '${params.project_id}' doesn't match Context's project_id '${projectId}'`);
  }
  return projectId;
}

/** The caller as operations see it (the URL's project checked first). */
export function callerOf(request: FastifyRequest): Caller {
  return { userId: request.stowage.userId, projectId: projectOf(request), isAdmin: request.stowage.isAdmin };
}
