/** `/metrics` on its own listener (`metrics_listen`), for deployments that keep it off the public API address. */
import Fastify, { type FastifyInstance } from 'fastify';
import type { ServiceMetrics } from '../observability/metrics.js';

export async function startMetricsServer(metrics: ServiceMetrics, listen: { readonly host: string; readonly port: number }): Promise<{ url: string; app: FastifyInstance }> {
  const app = Fastify({ logger: false, requestTimeout: 30_000, connectionTimeout: 30_000 });
  app.get('/metrics', async (_request, reply) => reply.type(metrics.contentType).send(await metrics.text()));
  const url = await app.listen({ host: listen.host, port: listen.port });
  return { url, app };
}
