/**
 * The unauthenticated operator endpoints: Prometheus' `/metrics` (unless `metrics_listen` moves it), health probes
 * (`/livez`, `/readyz`, and `/healthcheck` as Cinder and Swift answer it), and the status page's static shell (its
 * data comes from the admin-only `stowage/status` resource). They are marked `public` for the auth hook.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ApiDependencies } from '../api-deps.js';
import { readiness } from '../../operations/observability.js';
import { isLoopback } from '../../config/load-config.js';
import { faultBody } from '../faults.js';
import { readinessView } from '../observability-views.js';
import { statusPageHtml } from '../status-page.js';

/** Route config read by the auth hook: these answer without a token. */
export const PUBLIC_ROUTE = { public: true } as const;

declare module 'fastify' {
  interface FastifyContextConfig {
    public?: boolean;
  }
}

export function registerObservabilityRoutes(app: FastifyInstance, deps: ApiDependencies): void {
  const metrics = deps.metrics;
  if (metrics && deps.config.metricsListen === undefined) {
    app.get('/metrics', { config: PUBLIC_ROUTE }, async (_request, reply) => reply.type(metrics.contentType).send(await metrics.text()));
  }

  // Liveness: the process answers requests. Nothing else is checked, so a database outage never restarts the pod.
  app.get('/livez', { config: PUBLIC_ROUTE }, async () => ({ status: 'alive' }));

  app.get('/readyz', { config: PUBLIC_ROUTE }, async (_request, reply) => {
    const result = await readiness(deps.operations);
    return reply.code(result.ready ? 200 : 503).send(readinessView(result));
  });

  // oslo.middleware's healthcheck (Cinder, Swift): 200 "OK" as text, 503 with the reason; JSON when asked for.
  app.get('/healthcheck', { config: PUBLIC_ROUTE }, async (request, reply) => {
    const result = await readiness(deps.operations);
    const reasons = result.ready ? ['OK'] : [`database unreachable: ${result.database.error ?? 'unknown'}`];
    reply.code(result.ready ? 200 : 503);
    if (String(request.headers.accept ?? '').includes('application/json')) return reply.send({ detailed: false, reasons });
    return reply.type('text/plain; charset=utf-8').send(reasons.join('\n'));
  });

  const page = async (request: FastifyRequest, reply: FastifyReply) => {
    // Under noauth every caller is admin: the page is for a browser on the same machine only.
    if (deps.authenticator.strategy === 'noauth' && !isLoopback(clientAddress(request))) {
      return reply.code(403).send(faultBody(403, 'The status page is served to loopback clients only under auth_strategy noauth.'));
    }
    return reply
      .type('text/html; charset=utf-8')
      .header('Cache-Control', 'no-store')
      .header('Content-Security-Policy', "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'")
      .header('X-Frame-Options', 'DENY')
      .send(statusPageHtml(deps.authenticator.strategy));
  };
  app.get('/status', { config: PUBLIC_ROUTE }, page);
}

function clientAddress(request: FastifyRequest): string {
  return (request.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
}
