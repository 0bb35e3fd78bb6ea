import type { FastifyInstance, FastifyRequest } from 'fastify';
import { MAX_VERSION, MIN_VERSION, formatVersion } from '../microversion.js';
import { baseUrl } from '../request-context.js';

function versionDocument(request: FastifyRequest) {
  return {
    id: 'v3.0',
    status: 'CURRENT',
    version: formatVersion(MAX_VERSION),
    min_version: formatVersion(MIN_VERSION),
    updated: '2022-08-31T00:00:00Z',
    links: [
      { rel: 'describedby', type: 'text/html', href: 'https://docs.openstack.org/' },
      { rel: 'self', href: `${baseUrl(request)}/v3/` },
    ],
    'media-types': [{ base: 'application/json', type: 'application/vnd.openstack.volume+json;version=3' }],
  };
}

export function registerVersionRoutes(app: FastifyInstance): void {
  // Cinder answers version discovery with 300 Multiple Choices.
  app.get('/', async (request, reply) => reply.code(300).send({ versions: [versionDocument(request)] }));
  app.get('/v3', async (request) => ({ versions: [versionDocument(request)] }));
  app.get('/v3/', async (request) => ({ versions: [versionDocument(request)] }));
}
