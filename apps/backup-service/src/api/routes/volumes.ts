import { mkdir, open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { describeError } from '@stowage/core';
import { z } from 'zod';
import type { ApiDependencies } from '../api-deps.js';
import { nowIso } from '../../db/tables.js';
import { ApiFault, badRequest, notFound } from '../faults.js';
import { baseUrl, projectOf } from '../request-context.js';
import { volumeDetail, volumeSummary } from '../views.js';
import { v3Route } from './register.js';

const GiB = 1024 ** 3;
const DELETABLE = ['available', 'error', 'error_restoring', 'error_extending', 'error_managing'];

const createVolumeBody = z.object({
  volume: z.looseObject({
    size: z.unknown(),
    name: z.string().max(255).nullish(),
    description: z.string().max(255).nullish(),
    availability_zone: z.string().nullish(),
    metadata: z.record(z.string(), z.string()).nullish(),
  }),
});

export function registerVolumeRoutes(app: FastifyInstance, deps: ApiDependencies): void {
  const { store, config, logger } = deps;

  v3Route(app, 'POST', 'volumes', async (request, reply) => {
    const parsed = createVolumeBody.safeParse(request.body);
    if (!parsed.success) throw badRequest(`Invalid input for field/attribute volume. ${parsed.error.issues[0]?.message ?? ''}`.trim());
    const body = parsed.data.volume;
    const size = typeof body.size === 'string' && /^\d+$/.test(body.size) ? Number(body.size) : body.size;
    if (typeof size !== 'number' || !Number.isSafeInteger(size) || size <= 0) {
      throw badRequest(`Invalid input received: Volume size '${String(body.size)}' must be an integer and greater than 0`);
    }
    const zone = body.availability_zone ?? config.storageAvailabilityZone;
    if (zone !== config.storageAvailabilityZone) throw badRequest(`Invalid input received: Availability zone '${zone}' is invalid.`);
    const id = crypto.randomUUID();
    const path = join(config.volumesDir, `volume-${id}`);
    const now = nowIso();
    await store.insertVolume({
      id,
      project_id: projectOf(request),
      user_id: request.stowage.userId,
      display_name: body.name ?? null,
      display_description: body.description ?? null,
      size,
      status: 'creating',
      previous_status: null,
      availability_zone: zone,
      attach_status: 'detached',
      bootable: 0,
      path,
      metadata: JSON.stringify(body.metadata ?? {}),
      created_at: now,
      updated_at: null,
      deleted: 0,
      deleted_at: null,
    });
    const volume = (await store.getVolume(id))!;
    // The file is sparse: allocating N GiB costs nothing until written.
    void (async () => {
      try {
        await mkdir(config.volumesDir, { recursive: true });
        const handle = await open(path, 'w');
        await handle.truncate(size * GiB);
        await handle.close();
        await store.transitionVolume(id, ['creating'], { status: 'available' });
      } catch (error) {
        logger.error({ volume: id, err: describeError(error) }, 'creating the volume file failed');
        await store.transitionVolume(id, ['creating'], { status: 'error' }).catch(() => undefined);
      }
    })();
    return reply.code(202).send({ volume: volumeDetail(volume, baseUrl(request), request.stowage.version, request.stowage.isAdmin) });
  });

  v3Route(app, 'GET', 'volumes', async (request) => {
    const volumes = await store.listVolumes(projectOf(request));
    return { volumes: volumes.map((volume) => volumeSummary(volume, baseUrl(request))) };
  });

  v3Route(app, 'GET', 'volumes/detail', async (request) => {
    const volumes = await store.listVolumes(projectOf(request));
    return { volumes: volumes.map((volume) => volumeDetail(volume, baseUrl(request), request.stowage.version, request.stowage.isAdmin)) };
  });

  v3Route(app, 'GET', 'volumes/:volume_id', async (request) => {
    const { volume_id: id } = request.params as { volume_id: string };
    const volume = await store.getVolume(id, projectOf(request));
    if (!volume) throw notFound(`Volume ${id} could not be found.`);
    return { volume: volumeDetail(volume, baseUrl(request), request.stowage.version, request.stowage.isAdmin) };
  });

  v3Route(app, 'DELETE', 'volumes/:volume_id', async (request, reply) => {
    const { volume_id: id } = request.params as { volume_id: string };
    const volume = await store.getVolume(id, projectOf(request));
    if (!volume) throw notFound(`Volume ${id} could not be found.`);
    if (!(await store.transitionVolume(id, DELETABLE, { status: 'deleting' }))) {
      throw new ApiFault(
        400,
        'Invalid volume: Volume status must be available or error or error_restoring or error_extending or error_managing and must not be migrating, attached, belong to a group, have snapshots, awaiting a transfer, or be disassociated from snapshots after volume transfer.',
      );
    }
    void (async () => {
      try {
        await rm(volume.path, { force: true });
        await store.softDeleteVolume(id);
      } catch (error) {
        logger.error({ volume: id, err: describeError(error) }, 'deleting the volume file failed');
        await store.transitionVolume(id, ['deleting'], { status: 'error_deleting' }).catch(() => undefined);
      }
    })();
    return reply.code(202).send();
  });
}
