import type { FastifyInstance, RouteHandlerMethod } from 'fastify';

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

/**
 * Register a v3 route in both forms: `/v3/{project_id}/<path>` and the project-less `/v3/<path>` of
 * microversion 3.67 (the project then comes from the token).
 */
export function v3Route(app: FastifyInstance, method: Method, path: string, handler: RouteHandlerMethod): void {
  app.route({ method, url: `/v3/:project_id/${path}`, handler });
  app.route({ method, url: `/v3/${path}`, handler });
}
