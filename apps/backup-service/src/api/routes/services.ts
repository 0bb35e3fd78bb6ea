/** /os-services (admin): list with host/binary filters, enable, disable, disable-log-reason. */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { ApiDependencies } from '../api-deps.js';
import { listServices, setServiceDisabled } from '../../operations/services.js';
import { badRequest, notFound } from '../faults.js';
import { authorize } from '../policy.js';
import { storedText, validateBody } from '../validation.js';
import { EXTENSIONS_HEADER, serviceView, wantsExtension } from '../views.js';
import { v3Route } from './register.js';

// cinder/api/schemas/services.py: host and binary (legacy `service`), `cluster` unused here.
const hostFields = {
  host: storedText(255, 1).optional(),
  binary: storedText(255, 1).optional(),
  service: storedText(255, 1).optional(),
  cluster: storedText(255).nullable().optional(),
};
const enableSchema = z.strictObject(hostFields);
const disableLogReasonSchema = z.strictObject({ ...hostFields, disabled_reason: storedText(255, 1) });

export function registerServiceRoutes(app: FastifyInstance, deps: ApiDependencies): void {
  v3Route(app, 'GET', 'os-services', async (request) => {
    authorize(request.stowage, 'volume_extension:services:index');
    const query = request.query as { host?: string; binary?: string };
    const services = await listServices(deps.operations, { host: query.host, binary: query.binary });
    const backendStateReason = wantsExtension(request.headers[EXTENSIONS_HEADER], 'backend_state_reason');
    return { services: services.map((service) => serviceView(service, request.stowage.version, deps.config.serviceDownTimeMs, { backendStateReason })) };
  });

  v3Route(app, 'PUT', 'os-services/:action', async (request) => {
    authorize(request.stowage, 'volume_extension:services:update');
    const { action } = request.params as { action: string };
    if (!['enable', 'disable', 'disable-log-reason'].includes(action)) throw notFound(`Unknown action: ${action}`);
    const body = action === 'disable-log-reason' ? validateBody(disableLogReasonSchema, request.body) : validateBody(enableSchema, request.body);
    const host = body.host;
    const binary = body.binary ?? body.service;
    if (!host) throw badRequest("Missing required element 'host' in request body.");
    if (!binary) throw badRequest("Missing required element 'binary' in request body.");
    const disabled = action !== 'enable';
    const reason = 'disabled_reason' in body && typeof body.disabled_reason === 'string' ? body.disabled_reason : null;
    await setServiceDisabled(deps.operations, { host, binary, disabled, reason });
    const view: Record<string, unknown> = { disabled, status: disabled ? 'disabled' : 'enabled', host, service: binary, binary };
    if (action === 'disable-log-reason') view.disabled_reason = reason;
    return view;
  });
}
