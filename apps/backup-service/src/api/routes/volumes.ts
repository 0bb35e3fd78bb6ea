/** /volumes: file-backed volumes (sparse files) with Cinder's statuses; create, list, show, update, extend, delete. */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ApiDependencies } from '../api-deps.js';
import type { VolumeRow } from '../../db/tables.js';
import { createVolume, deleteVolume, extendVolume, findVolume, listVolumes, updateVolume } from '../../operations/volume-operations.js';
import { badRequest } from '../faults.js';
import { atLeast } from '../microversion.js';
import { allowed, authorize } from '../policy.js';
import { baseUrl, callerOf, projectOf } from '../request-context.js';
import { toBoolean, validateBody } from '../validation.js';
import { volumeDetail, volumeSummary } from '../views.js';
import { v3Route } from './register.js';
import { createVolumeSchema, extendSchema, updateVolumeSchema } from './volume-schemas.js';

export function registerVolumeRoutes(app: FastifyInstance, deps: ApiDependencies): void {
  const { operations, config } = deps;
  const serviceHost = `${config.host}@volumes#volumes`;
  const detail = (request: FastifyRequest, volume: VolumeRow, extended = true) =>
    volumeDetail(
      volume,
      baseUrl(request),
      request.stowage.version,
      allowed(request.stowage, 'volume_extension:volume_tenant_attribute'),
      serviceHost,
      extended,
    );
  const volumeIdParam = (request: FastifyRequest) => (request.params as { volume_id: string }).volume_id;

  v3Route(app, 'POST', 'volumes', async (request, reply) => {
    authorize(request.stowage, 'volume:create');
    const body = validateBody(createVolumeSchema, request.body).volume;
    const volume = await createVolume(operations, callerOf(request), {
      size: body.size,
      name: body.name ?? body.display_name ?? null,
      description: body.description ?? body.display_description ?? null,
      metadata: body.metadata ?? {},
      availabilityZone: body.availability_zone ?? null,
      // 3.47: a volume created from a backup (below 3.47 Cinder ignores backup_id).
      backupId: body.backup_id && atLeast(request.stowage.version, 47) ? body.backup_id : null,
      unsupportedSources: [['snapshot_id', body.snapshot_id], ['source_volid', body.source_volid], ['imageRef', body.imageRef ?? body.image_id]],
    });
    return reply.code(202).send({ volume: detail(request, volume, false) });
  });

  const list = (asDetail: boolean) => async (request: FastifyRequest) => {
    authorize(request.stowage, 'volume:get_all');
    const query = request.query as Record<string, string | undefined>;
    const allTenants = request.stowage.isAdmin && toBoolean(query.all_tenants ?? null);
    const volumes = await listVolumes(operations, { projectId: allTenants ? undefined : projectOf(request), name: query.name, status: query.status });
    return { volumes: volumes.map((volume) => (asDetail ? detail(request, volume) : volumeSummary(volume, baseUrl(request)))) };
  };
  v3Route(app, 'GET', 'volumes', list(false));
  v3Route(app, 'GET', 'volumes/detail', list(true));

  v3Route(app, 'GET', 'volumes/:volume_id', async (request) => {
    authorize(request.stowage, 'volume:get');
    return { volume: detail(request, await findVolume(operations, callerOf(request), volumeIdParam(request))) };
  });

  v3Route(app, 'PUT', 'volumes/:volume_id', async (request) => {
    authorize(request.stowage, 'volume:update');
    const body = validateBody(updateVolumeSchema, request.body).volume;
    const updated = await updateVolume(operations, callerOf(request), volumeIdParam(request), {
      name: body.name !== undefined ? body.name : body.display_name,
      description: body.description !== undefined ? body.description : body.display_description,
      metadata: body.metadata,
    });
    return { volume: detail(request, updated, false) };
  });

  v3Route(app, 'POST', 'volumes/:volume_id/action', async (request, reply) => {
    const body = request.body;
    const action = typeof body === 'object' && body !== null ? Object.keys(body)[0] : undefined;
    if (action !== 'os-extend') throw badRequest(`There is no such action: ${action ?? 'None'}`);
    authorize(request.stowage, 'volume:extend');
    const newSize = Number(validateBody(extendSchema, body)['os-extend'].new_size);
    await extendVolume(operations, callerOf(request), volumeIdParam(request), newSize);
    return reply.code(202).send();
  });

  v3Route(app, 'DELETE', 'volumes/:volume_id', async (request, reply) => {
    authorize(request.stowage, 'volume:delete');
    await deleteVolume(operations, callerOf(request), volumeIdParam(request));
    return reply.code(202).send();
  });
}
