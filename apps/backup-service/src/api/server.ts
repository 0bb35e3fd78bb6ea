import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { ApiDependencies } from './api-deps.js';
import { AuthUnavailableError, AuthenticationError } from './auth/authenticator.js';
import { DomainError } from '../domain/errors.js';
import { ApiFault, faultBody, faultOf } from './faults.js';
import { VERSION_HEADER, formatVersion, parseMicroversion, MIN_VERSION } from './microversion.js';
import './request-context.js';
import { registerBackupActionRoutes } from './routes/backup-actions.js';
import { registerBackupRoutes } from './routes/backups.js';
import { registerObservabilityRoutes } from './routes/observability.js';
import { registerServiceRoutes } from './routes/services.js';
import { registerStowageRoutes } from './routes/stowage.js';
import { registerVersionRoutes } from './routes/versions.js';
import { registerVolumeRoutes } from './routes/volumes.js';

/** The Block Storage v3 API subset this service serves (reference section 4). */
export function buildApi(deps: ApiDependencies): FastifyInstance {
  const { headersMs, requestMs, idleMs } = deps.config.apiTimeouts;
  const app = Fastify({
    logger: false,
    bodyLimit: 1024 * 1024,
    // A client that trickles its headers or body, or holds an idle connection, is cut off (Node's 408 or a close).
    requestTimeout: requestMs,
    keepAliveTimeout: idleMs,
    connectionTimeout: idleMs,
    // Node enforces the headers and request timeouts only as often as it checks its connections (30 s by default).
    http: { headersTimeout: headersMs, connectionsCheckingInterval: Math.max(50, Math.min(30_000, Math.floor(Math.min(headersMs, requestMs) / 4))) },
    // Errors Fastify raises before any route runs get Cinder's bodies too, never Fastify's own (with its FST_ codes).
    frameworkErrors: (error: FastifyError, _request: FastifyRequest, reply: FastifyReply) => {
      // A path segment longer than any id (maxParamLength) names no resource: the answer an unknown route gets.
      if (error.code === 'FST_ERR_MAX_PARAM_LENGTH') return reply.code(404).send(faultBody(404, 'The resource could not be found.'));
      return reply.code(400).send(faultBody(400, 'Invalid input received: the request URL is malformed.'));
    },
  });
  const log = deps.logger.child({ component: 'api' });

  app.decorateRequest('stowage', null as never);

  // Cinder answers a body that is not JSON with 400 "Malformed request body".
  app.removeContentTypeParser(['application/json']);
  app.addContentTypeParser(['application/json'], { parseAs: 'string' }, (_request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') return done(null, undefined);
    try {
      // `__proto__` keys are dropped: no request body can reach an object's prototype through a later copy.
      done(null, JSON.parse(text, (key, value: unknown) => (key === '__proto__' ? undefined : value)) as unknown);
    } catch (cause) {
      done(new ApiFault(400, 'Malformed request body', { cause }), undefined);
    }
  });

  app.addHook('onRequest', async (request, reply) => {
    const path = request.url.split('?')[0] ?? '/';
    const isVersionDocument = path === '/' || path === '/v3' || path === '/v3/';
    // Probes, Prometheus and the status page's shell answer without a token (they show no tenant's data).
    const isPublic = request.routeOptions.config?.public === true;
    const version = isVersionDocument || isPublic ? MIN_VERSION : parseMicroversion(request.headers[VERSION_HEADER]);
    if (isVersionDocument || isPublic) {
      request.stowage = { userId: '', projectId: '', roles: [], isAdmin: false, version };
      return;
    }
    // PostgreSQL cannot compare text with a NUL character: an id or filter holding one is refused before any query.
    if (/%00/.test(request.url)) return reply.code(400).send(faultBody(400, 'Invalid input received: the request URL contains a NUL character.'));
    const token = request.headers['x-auth-token'];
    if (deps.authenticator.strategy === 'noauth' && typeof token !== 'string') {
      // Cinder's noauth hands out a token instead of refusing.
      const user = String(request.headers['x-auth-user'] ?? 'admin');
      const project = String(request.headers['x-auth-project-id'] ?? 'admin');
      return reply
        .code(204)
        .header('X-Auth-Token', `${user}:${project}`)
        .header('X-Server-Management-Url', `${request.protocol}://${request.host}/v3/${project}`)
        .send();
    }
    let identity;
    try {
      identity = await deps.authenticator.authenticate(request.headers);
    } catch (error) {
      if (error instanceof AuthUnavailableError) {
        // keystonemiddleware answers 503 when it cannot validate; a 500 would look like our own bug.
        log.warn({ err: error, cause: (error.cause as Error | undefined)?.message }, 'token not validated: identity service unavailable');
        return reply.code(503).send(faultBody(503, 'The identity service is unavailable; the token could not be validated. Try again later.'));
      }
      if (!(error instanceof AuthenticationError)) throw error;
      // keystonemiddleware's answer to a missing or invalid token.
      const uri = deps.authenticator.wwwAuthenticateUri ?? `${request.protocol}://${request.host}`;
      return reply
        .code(401)
        .header('WWW-Authenticate', `Keystone uri="${uri}"`)
        .send({ error: { code: 401, title: 'Unauthorized', message: 'The request you have made requires authentication.' } });
    }
    request.stowage = { ...identity, version };
    reply.header('OpenStack-API-Version', `volume ${formatVersion(version)}`);
    reply.header('Vary', 'OpenStack-API-Version');
  });

  const metrics = deps.metrics;
  if (metrics) {
    // Route templates, never URLs: the label set stays bounded whatever ids clients send.
    app.addHook('onResponse', async (request, reply) => {
      metrics.apiRequest(request.method, request.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000);
    });
  }

  app.setErrorHandler((raw, request, reply) => {
    // The client gets the operation's own message; what went wrong underneath is for the log only.
    if (raw instanceof DomainError && raw.kind === 'operation-failed') log.error({ err: raw, cause: raw.cause, method: request.method, url: request.url }, 'operation failed');
    const error = raw instanceof DomainError ? faultOf(raw) : raw;
    if (error instanceof ApiFault) {
      if (error.statusCode === 413) reply.header('Retry-After', '0');
      return reply.code(error.statusCode).send(faultBody(error.statusCode, error.message));
    }
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
  registerBackupActionRoutes(app, deps);
  registerServiceRoutes(app, deps);
  registerStowageRoutes(app, deps);
  registerObservabilityRoutes(app, deps);
  return app;
}
