/**
 * Found by the hostile-input suite after the audit's items were fixed: answers Fastify itself gives before any route
 * runs, and microversions Cinder's pattern refuses.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHardened, type HardenedService } from './helpers/hardening-service.js';
import { tempDir } from './helpers/service-process.js';

let h: HardenedService;
let dir: { path: string; remove: () => Promise<void> };
beforeAll(async () => {
  dir = await tempDir('request-shapes');
  h = await startHardened({}, { dir: dir.path });
});
afterAll(async () => {
  await h?.stop();
  await dir?.remove();
});

describe('request shapes', () => {
  it('a path segment longer than any id is a 404 with Cinder\'s body, not Fastify\'s 414', async () => {
    const answer = await h.call('member1', 'POST', `/backups/${'x'.repeat(300)}/action`, { 'os-reset_status': { status: 'error' } });
    expect(answer.status).toBe(404);
    expect(answer.body).toEqual({ itemNotFound: { code: 404, message: 'The resource could not be found.' } });
  });

  it.each(['03.070', '3.07', '3.', '.7'])('microversion %j is refused as malformed (400), as Cinder does', async (version) => {
    const answer = await h.call('member1', 'GET', '/backups', undefined, version);
    expect(answer.status).toBe(400);
    expect(answer.body.badRequest.message).toBe(`API Version String ${version} is of invalid format. Must be of format MajorNum.MinorNum.`);
  });

  it('3.0 and 3.70 are still served', async () => {
    expect((await h.call('member1', 'GET', '/backups', undefined, '3.0')).status).toBe(200);
    expect((await h.call('member1', 'GET', '/backups', undefined, '3.70')).status).toBe(200);
  });
});
