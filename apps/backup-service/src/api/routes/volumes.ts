/** /volumes: file-backed volumes (sparse files) with Cinder's statuses; create, list, show, update, extend, delete. */
import { mkdir, open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { describeError } from '@stowage/core';
import type { ApiDependencies } from '../api-deps.js';
import { nowIso, type VolumeRow } from '../../db/tables.js';
import { ApiFault, badRequest, notFound } from '../faults.js';
import { atLeast } from '../microversion.js';
import { allowed, authorize } from '../policy.js';
import { baseUrl, projectOf, scopeOf } from '../request-context.js';
import { toBoolean, validateBody } from '../validation.js';
import { volumeDetail, volumeSummary } from '../views.js';
import { v3Route } from './register.js';
import { createVolumeSchema, extendSchema, updateVolumeSchema } from './volume-schemas.js';

const GiB = 1024 ** 3;
const DELETABLE = ['available', 'error', 'error_restoring', 'error_extending', 'error_managing'];

export function registerVolumeRoutes(app: FastifyInstance, deps: ApiDependencies): void {
  const { store, config, logger } = deps;
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

  async function findVolume(request: FastifyRequest): Promise<VolumeRow> {
    const { volume_id: id } = request.params as { volume_id: string };
    const volume = await store.getVolume(id, scopeOf(request));
    if (!volume) throw notFound(`Volume ${id} could not be found.`);
    return volume;
  }

  /** The backup a 3.47 volume create restores: visible to the caller, available, with a backend up to restore it. */
  async function sourceBackup(request: FastifyRequest, backupId: string) {
    const backup = await store.getBackup(backupId, scopeOf(request));
    if (!backup) throw notFound(`Backup ${backupId} could not be found.`);
    if (backup.status !== 'available') throw badRequest('Invalid backup: Backup status must be available');
    const hosts = (await store.upServices({ serviceDownTimeMs: config.serviceDownTimeMs, backendName: backup.backend_name ?? undefined }))
      .map((service) => service.host)
      .filter((host) => deps.manager.serves(host));
    const host = hosts[Math.floor(Math.random() * hosts.length)];
    if (!host) throw notFound('Service cinder-backup could not be found.');
    return { backup, host, size: backup.size };
  }

  v3Route(app, 'POST', 'volumes', async (request, reply) => {
    authorize(request.stowage, 'volume:create');
    const body = validateBody(createVolumeSchema, request.body).volume;
    // 3.47: a volume created from a backup (below 3.47 Cinder ignores backup_id).
    const source = body.backup_id && atLeast(request.stowage.version, 47) ? await sourceBackup(request, body.backup_id) : undefined;
    const requested = body.size ?? source?.size;
    const size = typeof requested === 'string' && /^\d+$/.test(requested) ? Number(requested) : requested;
    if (typeof size !== 'number' || !Number.isSafeInteger(size) || size <= 0) {
      throw badRequest(`Invalid input received: Volume size '${String(requested ?? 'None')}' must be an integer and greater than 0`);
    }
    if (source && size < source.size) {
      throw badRequest(`Invalid input received: Volume size '${size}' GB cannot be smaller than the backup size ${source.size} GB. It must be >= backup size.`);
    }
    for (const [key, value] of [['snapshot_id', body.snapshot_id], ['source_volid', body.source_volid], ['imageRef', body.imageRef ?? body.image_id]] as const) {
      if (value) throw badRequest(`Invalid input received: creating a volume from ${key} is not supported by this service; restore a backup with POST /backups/{id}/restore`);
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
      display_name: body.name ?? body.display_name ?? null,
      display_description: body.description ?? body.display_description ?? null,
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
        if (source) {
          // The backup goes `restoring` and the volume stays `creating` until the restore ends (Cinder's flow).
          const started = await store.updateBackup(source.backup.id, { status: 'restoring', restore_volume_id: id, host: source.host }, { status: ['available'] });
          if (started) return deps.manager.restoreBackup(source.host, source.backup.id, id);
          await store.transitionVolume(id, ['creating'], { status: 'error' });
          logger.error({ volume: id, backup: source.backup.id }, 'the backup stopped being available before the volume could be restored from it');
          return;
        }
        await store.transitionVolume(id, ['creating'], { status: 'available' });
      } catch (error) {
        logger.error({ volume: id, err: describeError(error) }, 'creating the volume file failed');
        await store.transitionVolume(id, ['creating'], { status: 'error' }).catch(() => undefined);
      }
    })();
    return reply.code(202).send({ volume: detail(request, volume, false) });
  });

  const list = (asDetail: boolean) => async (request: FastifyRequest) => {
    authorize(request.stowage, 'volume:get_all');
    const query = request.query as Record<string, string | undefined>;
    const allTenants = request.stowage.isAdmin && toBoolean(query.all_tenants ?? null);
    let volumes = await store.listVolumes(allTenants ? undefined : projectOf(request));
    if (query.name !== undefined) volumes = volumes.filter((volume) => volume.display_name === query.name);
    if (query.status !== undefined) volumes = volumes.filter((volume) => volume.status === query.status);
    return { volumes: volumes.map((volume) => (asDetail ? detail(request, volume) : volumeSummary(volume, baseUrl(request)))) };
  };
  v3Route(app, 'GET', 'volumes', list(false));
  v3Route(app, 'GET', 'volumes/detail', list(true));

  v3Route(app, 'GET', 'volumes/:volume_id', async (request) => {
    authorize(request.stowage, 'volume:get');
    return { volume: detail(request, await findVolume(request)) };
  });

  v3Route(app, 'PUT', 'volumes/:volume_id', async (request) => {
    authorize(request.stowage, 'volume:update');
    const body = validateBody(updateVolumeSchema, request.body).volume;
    const volume = await findVolume(request);
    const patch: Parameters<typeof store.updateVolume>[1] = {};
    const name = body.name !== undefined ? body.name : body.display_name;
    const description = body.description !== undefined ? body.description : body.display_description;
    if (name !== undefined) patch.display_name = name;
    if (description !== undefined) patch.display_description = description;
    if (body.metadata !== undefined) patch.metadata = JSON.stringify(body.metadata ?? {});
    if (Object.keys(patch).length > 0) await store.updateVolume(volume.id, patch);
    return { volume: detail(request, (await store.getVolume(volume.id))!, false) };
  });

  v3Route(app, 'POST', 'volumes/:volume_id/action', async (request, reply) => {
    const body = request.body;
    const action = typeof body === 'object' && body !== null ? Object.keys(body)[0] : undefined;
    if (action !== 'os-extend') throw badRequest(`There is no such action: ${action ?? 'None'}`);
    authorize(request.stowage, 'volume:extend');
    const newSize = Number(validateBody(extendSchema, body)['os-extend'].new_size);
    const volume = await findVolume(request);
    if (volume.status !== 'available') {
      throw badRequest(`Invalid volume: Volume status must be 'available' to extend, currently in '${volume.status}'`);
    }
    if (newSize <= volume.size) {
      throw badRequest(`Invalid input received: New size for extend must be greater than current size. (current: ${volume.size}, extended: ${newSize}).`);
    }
    if (!(await store.transitionVolume(volume.id, ['available'], { status: 'extending' }))) {
      throw badRequest(`Invalid volume: Volume status must be 'available' to extend`);
    }
    try {
      // Growing the file keeps it sparse: the new space costs nothing until written.
      const handle = await open(volume.path, 'r+');
      try {
        await handle.truncate(newSize * GiB);
      } finally {
        await handle.close();
      }
      await store.updateVolume(volume.id, { size: newSize });
      await store.transitionVolume(volume.id, ['extending'], { status: 'available' });
    } catch (error) {
      await store.transitionVolume(volume.id, ['extending'], { status: 'error_extending' });
      throw new ApiFault(500, `extending volume ${volume.id} failed: ${describeError(error)}`, { cause: error });
    }
    return reply.code(202).send();
  });

  v3Route(app, 'DELETE', 'volumes/:volume_id', async (request, reply) => {
    authorize(request.stowage, 'volume:delete');
    const volume = await findVolume(request);
    const id = volume.id;
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
