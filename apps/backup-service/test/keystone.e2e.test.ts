/**
 * `auth_strategy: keystone` against a real Keystone (Debian's keystone 22, started by scripts/servers/keystone.sh
 * on loopback, sqlite) and `stowage serve`: the `cinder` client with ordinary password auth finds Stowage through
 * the catalog (volumev3), a second project sees nothing of the first, a member is refused admin actions, missing,
 * garbage and revoked tokens get 401 + WWW-Authenticate, and with Keystone stopped cached tokens keep working
 * while new ones get 503. Under CI a Keystone that cannot be started fails the file; elsewhere it is skipped.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CinderClient, ensureCinderClient } from './helpers/cinder-client.js';
import { APP_DIR, ServiceProcess, freePort, tempDir, waitUntil, writeConfig } from './helpers/service-process.js';

const KEYSTONE_SH = resolve(APP_DIR, '../../scripts/servers/keystone.sh');
const root = await tempDir('keystone-e2e');
const port = await freePort();
const keystoneState = join(root.path, 'keystone');

/** keystone.env's `KEY='value'` lines (single-quoted because of `%(project_id)s`). */
function readEnvFile(path: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const match = /^([A-Z0-9_]+)='(.*)'$/.exec(line);
    if (match) env[match[1]!] = match[2]!;
  }
  return env;
}

function startKeystone(): { env: Record<string, string> } | { problem: string } {
  const clientProblem = ensureCinderClient();
  if (clientProblem) return { problem: clientProblem };
  const args = [KEYSTONE_SH, 'start', keystoneState, '--db', 'sqlite', '--volume-endpoint', `http://127.0.0.1:${port}/v3`, '--watch-pid', String(process.pid)];
  // First use on a fresh machine includes apt-get install (about 1 min).
  const started = spawnSync('bash', args, { encoding: 'utf8', timeout: 900_000 });
  if (started.status !== 0) {
    const tail = `${started.stderr ?? ''}${started.stdout ?? ''}${started.error ? String(started.error) : ''}`.trim().split('\n').slice(-5).join(' | ');
    return { problem: `Keystone did not start with "bash ${KEYSTONE_SH} start <dir> --db sqlite": ${tail}` };
  }
  return { env: readEnvFile(join(keystoneState, 'keystone.env')) };
}

const keystone = startKeystone();
const problem = 'problem' in keystone ? keystone.problem : undefined;
if (problem !== undefined) {
  stopKeystone();
  await root.remove();
  if (process.env.CI === 'true') throw new Error(`a real Keystone is required under CI: ${problem}`);
}
const env = 'env' in keystone ? keystone.env : {};

function stopKeystone(): void {
  spawnSync('bash', [KEYSTONE_SH, 'stop', keystoneState], { encoding: 'utf8', timeout: 60_000 });
}

/** A project-scoped password token straight from Keystone's REST API. */
async function issueToken(who: 'MEMBER' | 'ALT' | 'ADMIN'): Promise<{ token: string; projectId: string }> {
  const response = await fetch(`${env.OS_AUTH_URL}/auth/tokens?nocatalog`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      auth: {
        identity: { methods: ['password'], password: { user: { name: env[`KEYSTONE_${who}_USERNAME`], domain: { name: 'Default' }, password: env[`KEYSTONE_${who}_PASSWORD`] } } },
        scope: { project: { name: env[`KEYSTONE_${who}_PROJECT`], domain: { name: 'Default' } } },
      },
    }),
  });
  expect(response.status).toBe(201);
  const body = (await response.json()) as { token: { project: { id: string } } };
  return { token: response.headers.get('x-subject-token')!, projectId: body.token.project.id };
}

/** `cinder` with ordinary Keystone password auth: the endpoint comes from the catalog, nothing else is given. */
async function cinder(who: 'MEMBER' | 'ALT' | 'ADMIN', ...args: string[]): Promise<string> {
  const { execFile } = await import('node:child_process');
  const clean: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('OS_') && !key.startsWith('CINDER_')) clean[key] = value;
  const auth = [
    '--os-auth-url', env.OS_AUTH_URL!,
    '--os-username', env[`KEYSTONE_${who}_USERNAME`]!,
    '--os-password', env[`KEYSTONE_${who}_PASSWORD`]!,
    '--os-project-name', env[`KEYSTONE_${who}_PROJECT`]!,
    '--os-user-domain-name', 'Default',
    '--os-project-domain-name', 'Default',
  ];
  // This cinderclient has no --os-region-name; it reads the region from the environment.
  clean.OS_REGION_NAME = env.OS_REGION_NAME;
  return new Promise((resolveRun, reject) => {
    execFile('cinder', [...auth, ...args], { env: clean, timeout: 60_000 }, (error, stdout, stderr) => {
      if (error) reject(Object.assign(error, { output: `${stdout}${stderr}` }));
      else resolveRun(stdout);
    });
  });
}

async function cinderFails(who: 'MEMBER' | 'ALT' | 'ADMIN', ...args: string[]): Promise<string> {
  const outcome = await cinder(who, ...args).then(
    () => undefined,
    (error: { output?: string }) => error.output ?? String(error),
  );
  if (outcome === undefined) throw new Error(`cinder ${args.join(' ')} succeeded; a failure was expected`);
  return outcome;
}

describe.skipIf(problem !== undefined)(`a real Keystone${problem ? ` (skipped: ${problem})` : ''}`, () => {
  let service: ServiceProcess;
  let member: { token: string; projectId: string };
  const api = (path: string, token: string | undefined, init: RequestInit = {}) =>
    fetch(`${service.url}/v3/${member.projectId}${path}`, { ...init, headers: { ...(token ? { 'X-Auth-Token': token } : {}), ...(init.headers as Record<string, string>) } });

  beforeAll(async () => {
    const passwordFile = join(root.path, 'service-password');
    writeFileSync(passwordFile, `${env.KEYSTONE_SERVICE_PASSWORD}\n`, { mode: 0o600 });
    const config = await writeConfig(root.path, {
      host: 'keystone-e2e',
      listen: `127.0.0.1:${port}`,
      state_path: join(root.path, 'state'),
      auth_strategy: 'keystone',
      keystone_authtoken: {
        auth_url: env.OS_AUTH_URL,
        username: env.KEYSTONE_SERVICE_USERNAME,
        password_file: passwordFile,
        project_name: env.KEYSTONE_SERVICE_PROJECT,
        user_domain_name: 'Default',
        project_domain_name: 'Default',
        region_name: env.OS_REGION_NAME,
      },
      backends: [{ name: 'posix', driver: '@stowage/driver-posix', options: { path: join(root.path, 'backups') } }],
    });
    service = await ServiceProcess.start(config, port);
    member = await issueToken('MEMBER');
  });

  afterAll(async () => {
    const code = await service?.stop();
    stopKeystone();
    await root.remove();
    expect(code).toBe(0);
  });

  it('the cinder client with password auth finds Stowage in the catalog; projects are isolated; admin actions are admin-only', { timeout: 240_000 }, async () => {
    const volumeId = CinderClient.properties(await cinder('MEMBER', 'create', '--name', 'ks-volume', '1')).id!;
    const status = async (path: string, key: 'volume' | 'backup') => {
      const response = await api(path, member.token);
      return response.status === 200 ? ((await response.json()) as Record<string, { status: string }>)[key]!.status : `HTTP ${response.status}`;
    };
    await waitUntil('volume available', async () => (await status(`/volumes/${volumeId}`, 'volume')) === 'available', 30_000);
    const backupId = CinderClient.properties(await cinder('MEMBER', 'backup-create', '--name', 'ks-backup', volumeId)).id!;
    await waitUntil('backup available', async () => (await status(`/backups/${backupId}`, 'backup')) === 'available', 60_000);
    expect(CinderClient.rows(await cinder('MEMBER', 'backup-list'))).toContainEqual(expect.objectContaining({ ID: backupId, Status: 'available', Name: 'ks-backup' }));

    // Project stowage-alt: not in its list, not found by id.
    expect(CinderClient.rows(await cinder('ALT', 'backup-list')).map((row) => row.ID)).not.toContain(backupId);
    expect(await cinderFails('ALT', 'backup-show', backupId)).toMatch(/No volumebackup with a name or ID of|could not be found/);

    // A member may not reset a backup's status (admin-only policy): 403.
    expect(await cinderFails('MEMBER', 'backup-reset-state', '--state', 'error', backupId)).toContain('HTTP 403');
    // The admin, with its own project in the URL, acts on the member's backup by id.
    await cinder('ADMIN', 'backup-reset-state', '--state', 'error', backupId);
    expect(await status(`/backups/${backupId}`, 'backup')).toBe('error');
    await cinder('MEMBER', 'backup-delete', backupId);
    await waitUntil('backup deleted', async () => (await status(`/backups/${backupId}`, 'backup')) === 'HTTP 404', 30_000);
    await cinder('MEMBER', 'delete', volumeId);
  });

  it('missing, garbage and revoked tokens: 401 with WWW-Authenticate naming Keystone', async () => {
    for (const token of [undefined, 'garbage-token']) {
      const response = await api('/backups', token);
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toBe(`Keystone uri="${env.OS_AUTH_URL!.replace(/\/+$/, '')}"`);
    }
    // Keystone answers a revoked token as it does an expired one (404 on validation).
    const doomed = await issueToken('MEMBER');
    const revoked = await fetch(`${env.OS_AUTH_URL}/auth/tokens`, { method: 'DELETE', headers: { 'X-Auth-Token': doomed.token, 'X-Subject-Token': doomed.token } });
    expect(revoked.status).toBe(204);
    expect((await api('/backups', doomed.token)).status).toBe(401);
  });

  it('Keystone stopped: cached tokens are still served, new ones get 503 (never 500)', async () => {
    expect((await api('/backups', member.token)).status).toBe(200);
    const unused = await issueToken('MEMBER');
    stopKeystone();
    expect((await api('/backups', member.token)).status).toBe(200);
    const down = await api('/backups', unused.token);
    expect(down.status).toBe(503);
    expect(await down.json()).toEqual({ serviceUnavailable: { code: 503, message: expect.stringContaining('identity service is unavailable') } });
  });
});
