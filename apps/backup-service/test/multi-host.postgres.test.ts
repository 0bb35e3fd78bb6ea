/**
 * Several backup hosts (real `stowage serve` processes) on one PostgreSQL: placement spreads creates over the
 * hosts and any host's API serves any backup; a host whose storage is cut gives its creates to the others; a host
 * SIGKILLed in the middle of a create, a delete or a restore is taken over by a live one; with every host's storage
 * cut a create ends `error` with no host and is deletable; 50 creates and 50 deletes across two APIs happen exactly
 * once; a project's quota holds across hosts; a host that restarts runs the work queued for it.
 * Small intervals (report 1 s, service_down_time 4 s, periodic 1 s); time bounds are generous, never asserted.
 */
import { randomBytes } from 'node:crypto';
import { open } from 'node:fs/promises';
import { sameSparseContent } from '@stowage/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { volumeFilePath } from '../src/operations/volume-files.js';
import { postgresDatabase } from './helpers/databases.js';
import { Cluster, type Host } from './helpers/multi-host.js';
import { runCli, tempDir, waitUntil } from './helpers/service-process.js';

const postgres = postgresDatabase();
const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

const MiB = 1024 * 1024;
/** Bounds for waits: generous, the machine is shared and loaded. */
const LONG = 120_000;

async function cluster(name: string, specs: Parameters<typeof Cluster.create>[2], common?: Record<string, unknown>): Promise<Cluster> {
  const dir = await tempDir(name);
  cleanups.push(dir.remove);
  const url = await postgres.factory!(dir.path);
  const started = await Cluster.create(dir.path, url, specs, common);
  cleanups.push(() => started.close());
  return started;
}

/** A 1 GiB sparse volume with `chunks` MiB of random data, one MiB at the start of each 8 MiB chunk. */
async function volumeWithData(c: Cluster, through: Host, chunks = 1): Promise<string> {
  const created = await through.api.api('POST', '/volumes', { volume: { size: 1 } });
  expect(created.status).toBe(202);
  const id = created.body.volume.id as string;
  await waitUntil('volume available', async () => (await through.api.api('GET', `/volumes/${id}`)).body.volume.status === 'available', LONG);
  const file = await open(volumeFilePath(c.volumesDir, id), 'r+');
  try {
    for (let chunk = 0; chunk < chunks; chunk += 1) await file.write(randomBytes(MiB), 0, MiB, chunk * 8 * MiB);
  } finally {
    await file.close();
  }
  return id;
}

async function createBackup(through: Host, volumeId: string, project = 'p1'): Promise<{ status: number; id: string }> {
  const response = await apiAs(through, project, 'POST', '/backups', { backup: { volume_id: volumeId } });
  return { status: response.status, id: response.body?.backup?.id };
}

async function apiAs(host: Host, project: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const response = await fetch(`${host.api.url}/v3/${project}${path}`, {
    method,
    headers: { 'X-Auth-Token': `u1:${project}`, 'OpenStack-API-Version': 'volume 3.70', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? null : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

async function backupStatus(c: Cluster, id: string): Promise<string | undefined> {
  const row = await c.backupRow(id);
  return row ? (row.deleted ? 'deleted' : row.status) : undefined;
}

async function waitStatus(c: Cluster, ids: readonly string[], status: string, timeoutMs = LONG): Promise<void> {
  await waitUntil(`${ids.length} backup(s) ${status}`, async () => {
    const statuses = await Promise.all(ids.map((id) => backupStatus(c, id)));
    return statuses.every((value) => value === status) || undefined;
  }, timeoutMs, 200);
}

async function serviceState(through: Host, service: string): Promise<string | undefined> {
  return (await through.api.serviceStates())[service]?.state;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

describe.skipIf(postgres.factory === undefined)(`several backup hosts on PostgreSQL${postgres.skipReason ? ` (skipped: ${postgres.skipReason})` : ''}`, () => {
  it('spreads 30 creates over 3 hosts, restores each through another host, reschedules off a host whose storage is cut, and fails cleanly with every storage cut', async () => {
    const c = await cluster('multi-spread', [{ name: 'hostA' }, { name: 'hostB' }, { name: 'hostC' }]);
    const [a, b, hostC] = [c.host('hostA'), c.host('hostB'), c.host('hostC')];
    await waitUntil('three hosts up', async () => (await Promise.all(c.hosts.map((host) => serviceState(a, host.service)))).every((state) => state === 'up') || undefined, LONG);

    // 30 creates through A's API, all at once.
    const volumes = await Promise.all(Array.from({ length: 30 }, () => volumeWithData(c, a)));
    const created = await Promise.all(volumes.map((volume) => createBackup(a, volume)));
    expect(created.map((backup) => backup.status)).toEqual(created.map(() => 202));
    const ids = created.map((backup) => backup.id);
    await waitStatus(c, ids, 'available');
    const rows = await c.query('SELECT id, host, volume_id FROM backups WHERE id = ANY($1)', [ids]);
    const perHost = new Map<string, number>();
    for (const row of rows) perHost.set(row.host, (perHost.get(row.host) ?? 0) + 1);
    console.log('creates per host', Object.fromEntries(perHost));
    for (const host of c.hosts) expect(perHost.get(host.service) ?? 0).toBeGreaterThanOrEqual(5);

    // Each restores byte-identical through the API of a host other than the one that wrote it.
    const restores = await Promise.all(rows.map(async (row) => {
      const other = c.hosts.find((host) => host.service !== row.host)!;
      const response = await other.api.api('POST', `/backups/${row.id}/restore`, { restore: {} });
      expect(response.status).toBe(202);
      return { source: row.volume_id as string, target: response.body.restore.volume_id as string };
    }));
    for (const restore of restores) {
      await waitUntil('restored', async () => (await a.api.api('GET', `/volumes/${restore.target}`)).body.volume.status === 'available', LONG, 200);
      expect(await sameSparseContent(volumeFilePath(c.volumesDir, restore.target), volumeFilePath(c.volumesDir, restore.source))).toBe(true);
    }
    const latencies = c.hosts.flatMap((host) => host.claimLatencies());
    console.log(`create -> claimed on the chosen host: n=${latencies.length} median=${median(latencies)} ms worst=${Math.max(...latencies)} ms`);

    // B's storage is cut while creates wait on B: B restarted to run one operation at a time with slow objects, so a
    // slow create holds B's one slot and four more are queued behind it.
    await b.restartWith({ config: { backup_max_operations: 1 }, backend: { object_delay_ms: 300 } });
    await waitUntil('B up after restart', async () => ((await serviceState(a, 'hostB@b')) === 'up' ? true : undefined), LONG, 100);
    await c.setDisabled(a, ['hostA', 'hostC'], true);
    const blocker = await createBackup(a, await volumeWithData(c, a, 6));
    await waitUntil('blocker running on B', async () => ((await c.backupRow(blocker.id))?.service ? true : undefined), LONG, 20);
    const queuedVolumes = await Promise.all(Array.from({ length: 4 }, () => volumeWithData(c, a)));
    const queued = await Promise.all(queuedVolumes.map((volume) => createBackup(a, volume)));
    await waitUntil('queued creates claimed by B', async () => {
      const claimed = await c.query("SELECT id FROM backups WHERE id = ANY($1) AND host = 'hostB@b' AND worker LIKE 'hostB:%'", [queued.map((q) => q.id)]);
      return claimed.length === queued.length || undefined;
    }, LONG, 20);
    await c.setDisabled(a, ['hostA', 'hostC'], false);
    await b.cutStorage();
    await waitUntil('B down at once', async () => ((await serviceState(a, 'hostB@b')) === 'down' ? true : undefined), LONG, 100);
    await waitStatus(c, queued.map((q) => q.id), 'available');
    for (const q of queued) {
      const row = (await c.backupRow(q.id))!;
      expect(['hostA@b', 'hostC@b']).toContain(row.host);
      expect(JSON.parse(row.scheduling_attempts)).toEqual([{ host: 'hostB@b', reason: expect.stringMatching(/storage unreachable|backend not working/) }]);
    }
    // The create that was writing when the storage went away ends error (its own failure, not a reschedule).
    await waitStatus(c, [blocker.id], 'error');
    // Reconnected: periodic initialisation brings B back without a restart.
    await b.reconnectStorage();
    await waitUntil('B up again', async () => ((await serviceState(a, 'hostB@b')) === 'up' ? true : undefined), LONG, 200);

    // Every host's storage cut: the create ends error with no host, and the API deletes it (202).
    for (const host of c.hosts) await host.cutStorage();
    const volume = await volumeWithData(c, a);
    const doomed = await createBackup(a, volume);
    expect(doomed.status).toBe(202);
    await waitStatus(c, [doomed.id], 'error');
    const failed = (await c.backupRow(doomed.id))!;
    expect(failed.host).toBeNull();
    expect(failed.fail_reason).toMatch(/cinder-backup|No backup service could take the backup/);
    expect((await hostC.api.api('DELETE', `/backups/${doomed.id}`)).status).toBe(202);
    await waitUntil('doomed deleted', async () => ((await a.api.api('GET', `/backups/${doomed.id}`)).status === 404 ? true : undefined), LONG);
  });

  it('takes over a create, a delete and a restore of a host killed with SIGKILL, and a restarted host runs its queued work', async () => {
    // C's objects are slow (each put, get and delete waits), so its operations can be cut half way.
    const c = await cluster('multi-kill', [{ name: 'hostA' }, { name: 'hostB' }, { name: 'hostC', driverOptions: { object_delay_ms: 700 } }]);
    const [a, b, hostC] = [c.host('hostA'), c.host('hostB'), c.host('hostC')];
    await waitUntil('three hosts up', async () => (await Promise.all(c.hosts.map((host) => serviceState(a, host.service)))).every((state) => state === 'up') || undefined, LONG);
    // Backups to delete and restore later, written by A and B.
    await c.setDisabled(a, ['hostC'], true);
    const spare = await Promise.all([0, 1].map(async () => createBackup(a, await volumeWithData(c, a, 6))));
    await waitStatus(c, spare.map((s) => s.id), 'available');
    await c.setDisabled(a, ['hostC'], false);
    const takeoverTimes: Record<string, number> = {};

    const onlyC = async <T>(start: () => Promise<T>, running: (row: Record<string, any>) => boolean, id: (value: T) => string) => {
      await waitUntil('C up', async () => ((await serviceState(a, 'hostC@b')) === 'up' ? true : undefined), LONG);
      await c.setDisabled(a, ['hostA', 'hostB'], true);
      const value = await start();
      await waitUntil('C running it', async () => {
        const row = await c.backupRow(id(value));
        return row && row.host === 'hostC@b' && String(row.worker).startsWith('hostC:') && running(row) ? true : undefined;
      }, LONG, 20);
      await c.setDisabled(a, ['hostA', 'hostB'], false);
      await hostC.kill();
      return { value, killedAt: Date.now() };
    };

    // 1. A create running on C.
    const volume = await volumeWithData(c, a, 6);
    const create = await onlyC(() => createBackup(a, volume), (row) => row.status === 'creating' && row.service !== null, (v) => v.id);
    await waitUntil('C down', async () => ((await serviceState(a, 'hostC@b')) === 'down' ? true : undefined), LONG, 200);
    await waitStatus(c, [create.value.id], 'error');
    takeoverTimes.create = Date.now() - create.killedAt;
    const createRow = (await c.backupRow(create.value.id))!;
    expect(createRow.fail_reason).toContain('hostC@b');
    expect(['hostA@b', 'hostB@b']).toContain(createRow.host);
    expect(await c.objectsOf(createRow.service_metadata)).toEqual([]);
    expect((await a.api.api('GET', `/volumes/${volume}`)).body.volume.status).toBe('available');

    // 2. A delete running on C: a live host completes it.
    await hostC.start();
    const doomed = spare[0]!.id;
    const prefix = (await c.backupRow(doomed))!.service_metadata as string;
    const deletion = await onlyC(async () => expect((await a.api.api('DELETE', `/backups/${doomed}`)).status).toBe(202), (row) => row.status === 'deleting', () => doomed);
    await waitStatus(c, [doomed], 'deleted');
    takeoverTimes.delete = Date.now() - deletion.killedAt;
    expect(await c.objectsOf(prefix)).toEqual([]);

    // 3. A restore running on C: the backup is available again, the target volume error_restoring.
    await hostC.start();
    const source = spare[1]!.id;
    let target = '';
    const restore = await onlyC(async () => {
      const response = await a.api.api('POST', `/backups/${source}/restore`, { restore: {} });
      expect(response.status).toBe(202);
      target = response.body.restore.volume_id;
    }, (row) => row.status === 'restoring', () => source);
    await waitUntil('target error_restoring', async () => ((await a.api.api('GET', `/volumes/${target}`)).body.volume.status === 'error_restoring' ? true : undefined), LONG, 200);
    takeoverTimes.restore = Date.now() - restore.killedAt;
    expect(await backupStatus(c, source)).toBe('available');
    console.log(`takeover after SIGKILL (service_down_time 4 s, periodic_interval 1 s): ${JSON.stringify(takeoverTimes)} ms`);
    // Nothing is left in a transient status.
    expect(await c.query("SELECT id, status FROM backups WHERE deleted = 0 AND status IN ('creating', 'deleting', 'restoring')")).toEqual([]);

    // 4. Restart pickup: with no other host alive, work queued for C while it was down runs once C is back.
    await Promise.all([a.stop(), b.stop()]);
    await c.query("UPDATE backups SET status = 'deleting', host = 'hostC@b', worker = NULL WHERE id = $1", [source]);
    await hostC.start();
    await waitStatus(c, [source], 'deleted');
  });

  it('runs 50 creates and 50 deletes issued in parallel through two hosts exactly once, and holds a quota across hosts', async () => {
    const c = await cluster('multi-race', [{ name: 'hostA' }, { name: 'hostB' }]);
    const [a, b] = [c.host('hostA'), c.host('hostB')];
    await waitUntil('two hosts up', async () => (await Promise.all(c.hosts.map((host) => serviceState(a, host.service)))).every((state) => state === 'up') || undefined, LONG);
    // `stowage check` against the shared database lists every host's backup services.
    const check = await runCli(['check', '--config', a.configPath], { timeoutMs: 60_000 });
    expect(check.stdout).toMatch(/^ok {6}database postgres:\/\/\S+ in \d+ ms: 2 backup service\(s\): hostA@b up, hostB@b up$/m);
    expect(check.code).toBe(0);
    const volumes = await Promise.all(Array.from({ length: 100 }, (_, index) => volumeWithData(c, index % 2 ? b : a)));
    const first = await Promise.all(volumes.slice(0, 50).map((volume, index) => createBackup(index % 2 ? b : a, volume)));
    await waitStatus(c, first.map((f) => f.id), 'available');
    const firstPrefixes = (await c.query('SELECT service_metadata FROM backups WHERE id = ANY($1)', [first.map((f) => f.id)])).map((row) => row.service_metadata as string);

    // 50 creates and 50 deletes at once, alternating between A's and B's API.
    const [creates, deletes] = await Promise.all([
      Promise.all(volumes.slice(50).map((volume, index) => createBackup(index % 2 ? a : b, volume))),
      Promise.all(first.map((backup, index) => (index % 2 ? a : b).api.api('DELETE', `/backups/${backup.id}`))),
    ]);
    expect(creates.every((created) => created.status === 202)).toBe(true);
    expect(deletes.every((deleted) => deleted.status === 202)).toBe(true);
    await waitStatus(c, creates.map((created) => created.id), 'available');
    await waitStatus(c, first.map((f) => f.id), 'deleted');
    const latencies = c.hosts.flatMap((host) => host.claimLatencies());
    console.log(`create -> claimed on the chosen host (100 creates over 2 hosts): n=${latencies.length} median=${median(latencies)} ms worst=${Math.max(...latencies)} ms`);

    // From the database: exactly the 50 new backups live, each with its own data, none transient, usage exact.
    const live = await c.query("SELECT id, status, service_metadata, object_count FROM backups WHERE deleted = 0 AND project_id = 'p1'");
    expect(live.map((row) => row.id).sort()).toEqual(creates.map((created) => created.id).sort());
    expect(new Set(live.map((row) => row.service_metadata)).size).toBe(50);
    expect((await c.query('SELECT count(*)::int AS n FROM backups WHERE deleted = 1'))[0]!.n).toBe(50);
    const usage = await apiAs(a, 'p1', 'GET', '/backups/detail');
    expect(usage.body.backups).toHaveLength(50);
    // From the storage: the deleted backups' objects are gone, each new one holds exactly the objects it recorded.
    for (const prefix of firstPrefixes) expect(await c.objectsOf(prefix)).toEqual([]);
    const counts = await Promise.all(live.map(async (row) => ({ stored: (await c.objectsOf(row.service_metadata)).length, recorded: row.object_count as number })));
    console.log('objects per backup (stored vs recorded)', JSON.stringify(counts.slice(0, 3)));
    // Its data chunks plus the sha256 and metadata objects: nothing written twice, nothing left over.
    for (const count of counts) expect(count.stored).toBe(count.recorded + 2);

    // A quota of 10 backups for project p2, 20 creates at once through both APIs: exactly 10 accepted.
    await c.query("INSERT INTO quotas (project_id, resource, hard_limit, created_at) VALUES ('p2', 'backups', 10, now()::text)");
    const p2Volumes = await Promise.all(Array.from({ length: 20 }, async (_, index) => {
      const through = index % 2 ? a : b;
      const response = await apiAs(through, 'p2', 'POST', '/volumes', { volume: { size: 1 } });
      const id = response.body.volume.id as string;
      await waitUntil('p2 volume', async () => (await apiAs(through, 'p2', 'GET', `/volumes/${id}`)).body.volume.status === 'available', LONG);
      return id;
    }));
    const p2 = await Promise.all(p2Volumes.map((volume, index) => createBackup(index % 2 ? a : b, volume, 'p2')));
    expect(p2.filter((response) => response.status === 202)).toHaveLength(10);
    expect(p2.filter((response) => response.status === 413)).toHaveLength(10);
    await waitStatus(c, p2.filter((response) => response.status === 202).map((response) => response.id), 'available');
    expect((await c.query("SELECT count(*)::int AS n FROM backups WHERE deleted = 0 AND project_id = 'p2'"))[0]!.n).toBe(10);
  });
});
