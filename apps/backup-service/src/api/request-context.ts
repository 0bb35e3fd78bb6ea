import type { FastifyRequest } from 'fastify';
import type { Microversion } from './microversion.js';

/** Who is calling and at which microversion; set by the auth and version hooks. */
export interface RequestContext {
  readonly userId: string;
  readonly projectId: string;
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

/** The project a request acts on: the URL's `{project_id}` when given, else the token's (3.67 routes). */
export function projectOf(request: FastifyRequest): string {
  const params = request.params as { project_id?: string };
  return params.project_id ?? request.stowage.projectId;
}
