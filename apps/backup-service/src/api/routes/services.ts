import type { FastifyInstance } from 'fastify';
import type { ApiDependencies } from '../api-deps.js';
import { ApiFault } from '../faults.js';
import { serviceView } from '../views.js';
import { v3Route } from './register.js';

export function registerServiceRoutes(app: FastifyInstance, deps: ApiDependencies): void {
  v3Route(app, 'GET', 'os-services', async (request) => {
    if (!request.stowage.isAdmin) throw new ApiFault(403, 'Policy does not allow volume_extension:services:index to be performed.');
    const query = request.query as { host?: string; binary?: string };
    const services = await deps.store.listServices({ host: query.host, binary: query.binary });
    return { services: services.map((service) => serviceView(service, request.stowage.version, deps.config.serviceDownTimeMs)) };
  });
}
