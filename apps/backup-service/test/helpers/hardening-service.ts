/** An in-process service with tokens auth (members of p1 and p2, an admin) for the hardening tests. */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { resolveConfig } from '../../src/config/load-config.js';
import { startService, type RunningService, type StartOptions } from '../../src/service.js';
import { freePort, tempDir, waitUntil } from './service-process.js';
import { sha256Hex } from './volume-files.js';

export const TOKENS = { member1: 'member-one', member2: 'member-two', admin: 'the-admin' } as const;
export type Who = keyof typeof TOKENS;
const PROJECT: Record<Who, string> = { member1: 'p1', member2: 'p2', admin: 'admin' };

export interface HardenedService {
  readonly service: RunningService;
  readonly dir: string;
  call(who: Who, method: string, path: string, body?: unknown, version?: string): Promise<{ status: number; body: any }>;
  volume(who: Who, size?: number): Promise<string>;
  stop(): Promise<void>;
}

export async function startHardened(raw: Record<string, unknown> = {}, options: StartOptions & { dir?: string } = {}): Promise<HardenedService> {
  const temp = options.dir ? undefined : await tempDir('hardening');
  const dir = options.dir ?? temp!.path;
  const tokensFile = join(dir, 'tokens.yaml');
  await writeFile(
    tokensFile,
    `tokens:\n  - {sha256: ${sha256Hex(TOKENS.member1)}, user_id: u1, project_id: p1, roles: [member]}\n` +
      `  - {sha256: ${sha256Hex(TOKENS.member2)}, user_id: u2, project_id: p2, roles: [member]}\n` +
      `  - {sha256: ${sha256Hex(TOKENS.admin)}, user_id: ops, project_id: admin, roles: [admin, member]}\n`,
  );
  const config = resolveConfig(
    {
      host: 'hard',
      listen: `127.0.0.1:${await freePort()}`,
      state_path: dir,
      auth_strategy: 'tokens',
      auth_tokens_file: tokensFile,
      backends: [{ name: 'b', driver: 'stowage-driver-example', options: { root: join(dir, 'b') } }],
      ...raw,
    },
    { baseDir: dir, source: 'test' },
  );
  const service = await startService(config, pino({ level: 'silent' }), options);
  await service.initialized;
  const call: HardenedService['call'] = async (who, method, path, body, version = '3.70') => {
    const response = await service.app.inject({
      method: method as 'GET',
      url: `/v3/${PROJECT[who]}${path}`,
      headers: { 'x-auth-token': TOKENS[who], 'openstack-api-version': `volume ${version}` },
      ...(body === undefined ? {} : { payload: body as object }),
    });
    return { status: response.statusCode, body: response.body ? response.json() : null };
  };
  return {
    service,
    dir,
    call,
    async volume(who, size = 1) {
      const created = await call(who, 'POST', '/volumes', { volume: { size } });
      if (created.status !== 202) throw new Error(`volume create: ${created.status} ${JSON.stringify(created.body)}`);
      const id = created.body.volume.id as string;
      await waitUntil('volume available', async () => (await call(who, 'GET', `/volumes/${id}`)).body.volume.status === 'available');
      return id;
    },
    async stop() {
      await service.stop();
      await temp?.remove();
    },
  };
}
