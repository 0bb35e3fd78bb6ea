import Fastify, { type FastifyInstance } from 'fastify';
import type { ApiDependencies } from './api-deps.js';
import { ApiFault, faultBody } from './faults.js';
import { VERSION_HEADER, formatVersion, parseMicroversion, MIN_VERSION } from './microversion.js';
import './request-context.js';
import { registerBackupRoutes } from './routes/backups.js';
import { registerServiceRoutes } from './routes/services.js';
import { registerVersionRoutes } from './routes/versions.js';
import { registerVolumeRoutes } from './routes/volumes.js';

/** The Block Storage v3 API subset this service serves (reference section 4). */
export function buildApi(deps: ApiDependencies): FastifyInstance {
  const app = Fastify({ logger: false, bodyLimit: 1024 * 1024 });
  const log = deps.logger.child({ component: 'api' });

  app.decorateRequest('stowage', null as never);

  // noauth, exactly as Cinder's NoAuthMiddleware: the token is `user:project` and the caller is admin.
  app.addHook('onRequest', async (request, reply) => {
    const path = request.url.split('?')[0] ?? '/';
    const isVersionDocument = path === '/' || path === '/v3' || path === '/v3/';
    const version = isVersionDocument ? MIN_VERSION : parseMicroversion(request.headers[VERSION_HEADER]);
    const token = request.headers['x-auth-token'];
    if (!isVersionDocument && typeof token !== 'string') {
      // Cinder's noauth hands out a token instead of refusing.
      const user = String(request.headers['x-auth-user'] ?? 'admin');
      const project = String(request.headers['x-auth-project-id'] ?? 'admin');
      return reply
        .code(204)
        .header('X-Auth-Token', `${user}:${project}`)
        .header('X-Server-Management-Url', `${request.protocol}://${request.host}/v3/${project}`)
        .send();
    }
    const [user = 'admin', project] = String(token ?? 'admin:admin').split(':', 2);
    request.stowage = { userId: user, projectId: project || user, isAdmin: true, version };
    if (!isVersionDocument) {
      reply.header('OpenStack-API-Version', `volume ${formatVersion(version)}`);
      reply.header('Vary', 'OpenStack-API-Version');
    }
  });

  app.setErrorHandler((error, request, reply) => {
    if (error instanceof ApiFault) return reply.code(error.statusCode).send(faultBody(error.statusCode, error.message));
    const statusCode = (error as { statusCode?: number }).statusCode;
    if (typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500) {
      return reply.code(statusCode).send(faultBody(statusCode, (error as Error).message));
    }
    log.error({ err: error, method: request.method, url: request.url }, 'request failed');
    return reply.code(500).send(faultBody(500, 'The server has either erred or is incapable of performing the requested operation.'));
  });
  app.setNotFoundHandler((_request, reply) => reply.code(404).send(faultBody(404, 'The resource could not be found.')));

  registerVersionRoutes(app);
  registerVolumeRoutes(app, deps);
  registerBackupRoutes(app, deps);
  registerServiceRoutes(app, deps);
  return app;
}
