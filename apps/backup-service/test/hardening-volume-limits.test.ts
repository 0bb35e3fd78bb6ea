/**
 * Issue 11, items 4 and 9: Cinder's volume quotas (`quota_volumes`, `quota_gigabytes`, 413 with Cinder's body) and a
 * maximum volume size (400) on create, extend and restores into new volumes; an oversized extend is a 400 that
 * leaves the volume `available`, and a member's fail_reason carries no file system paths.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHardened, type HardenedService } from './helpers/hardening-service.js';
import { waitUntil } from './helpers/service-process.js';

let h: HardenedService;
let member1Backup: string;
beforeAll(async () => {
  h = await startHardened({ quota_volumes: 3, quota_gigabytes: 5, per_volume_size_limit: 4 });
});
afterAll(async () => h?.stop());

describe('volume quotas and size limit', () => {
  it('refuses a volume beyond per_volume_size_limit, and sizes no file can hold', async () => {
    const big = await h.call('member1', 'POST', '/volumes', { volume: { size: 5 } });
    expect(big.status).toBe(400);
    expect(big.body).toEqual({ badRequest: { code: 400, message: 'Invalid input received: Requested volume size 5G is larger than maximum allowed limit 4G.' } });
    const huge = await h.call('member1', 'POST', '/volumes', { volume: { size: 2 ** 53 - 1 } });
    expect(huge.status).toBe(400);
  });

  it("counts volumes and gigabytes per project, with Cinder's 413 bodies; restores into new volumes count", async () => {
    const first = await h.volume('member1', 2);
    await h.volume('member1', 2);
    const overGigabytes = await h.call('member1', 'POST', '/volumes', { volume: { size: 2 } });
    expect(overGigabytes.status).toBe(413);
    expect(overGigabytes.body).toEqual({
      overLimit: { code: 413, message: 'Requested volume or snapshot exceeds allowed gigabytes quota. Requested 2G, quota is 5G and 4G has been consumed.', retryAfter: '0' },
    });
    // Another project's usage is its own.
    await h.volume('member2', 4);

    const backup = (await h.call('member1', 'POST', '/backups', { backup: { volume_id: first } })).body.backup;
    await waitUntil('backup available', async () => (await h.call('member1', 'GET', `/backups/${backup.id}`)).body.backup.status === 'available');
    member1Backup = backup.id;
    // A restore into a new 2G volume would make 6G of 5G.
    const restore = await h.call('member1', 'POST', `/backups/${backup.id}/restore`, { restore: {} });
    expect(restore.status).toBe(413);
    expect(restore.body.overLimit.message).toMatch(/exceeds allowed gigabytes quota/);

    await h.volume('member1', 1);
    const overCount = await h.call('member1', 'POST', '/volumes', { volume: { size: 1 } });
    expect(overCount.status).toBe(413);
    expect(overCount.body).toEqual({ overLimit: { code: 413, message: "Maximum number of volumes allowed (3) exceeded for quota 'volumes'.", retryAfter: '0' } });
  });

  it('extend: beyond the size limit is 400 and the volume stays available; beyond the quota is 413', async () => {
    const volume = await h.volume('member2', 1).catch(() => undefined);
    // member2 holds 4G of 5G: one more 1G volume fits, extending it to 2G does not.
    expect(volume).toBeDefined();
    const huge = await h.call('member2', 'POST', `/volumes/${volume}/action`, { 'os-extend': { new_size: '9007199254740991' } });
    expect(huge.status).toBe(400);
    expect(huge.body.badRequest.message).toMatch(/larger than maximum allowed limit/);
    expect((await h.call('member2', 'GET', `/volumes/${volume}`)).body.volume.status).toBe('available');
    const over = await h.call('member2', 'POST', `/volumes/${volume}/action`, { 'os-extend': { new_size: 2 } });
    expect(over.status).toBe(413);
    expect((await h.call('member2', 'GET', `/volumes/${volume}`)).body.volume).toMatchObject({ status: 'available', size: 1 });
  });
});

describe('fail_reason', () => {
  it('shows a member no file system paths or URLs; the admin sees the detail', async () => {
    const reason = `delete failed on backend b: ENOENT: no such file or directory, open '${h.dir}/b/x/chunk-1' (see http://10.0.0.1:8080/v1/AUTH_x)`;
    await h.service.store.updateBackup(member1Backup, { status: 'error', fail_reason: reason });
    expect((await h.call('admin', 'GET', `/backups/${member1Backup}`)).body.backup.fail_reason).toBe(reason);
    const member = (await h.call('member1', 'GET', `/backups/${member1Backup}`)).body.backup.fail_reason as string;
    expect(member).toBe("delete failed on backend b: ENOENT: no such file or directory, open '<path>' (see <url>)");
    const listed = (await h.call('member1', 'GET', '/backups/detail')).body.backups.find((b: { id: string }) => b.id === member1Backup);
    expect(listed.fail_reason).not.toContain(h.dir);
  });
});
