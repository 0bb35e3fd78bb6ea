/**
 * The shared fault suite against the real ganesha (a uid the export refuses, a missing container, the server
 * stopped before and in the middle of a backup, a request never answered), and what only NFS has: a bad export path,
 * the server killed (SIGKILL) in the middle of a backup, a restart seen by the same driver.
 */
import { DriverSetupError, NotFoundError, StorageUnavailableError } from '@stowage/driver-contract';
import { createFromPlugin, rejectionOf, runDriverFaultSuite, runOutageDuringBackup } from '@stowage/testkit';
import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import plugin from '../src/index.js';
import { createNfsDriver, nfsOptions, nfsTestServer } from './nfs-test-helpers.js';

const run = promisify(execFile);
const MiB = 1024 * 1024;
const server = nfsTestServer();

if (server.requirement.available) {
  const endpoints = server.endpoints();
  const baseDir = `faults-${randomUUID().slice(0, 8)}`;
  const create = (overrides: Record<string, unknown> = {}) => createNfsDriver(endpoints, 'nfs-faults', { base_dir: baseDir, ...overrides });
  const ganesha = (action: 'stop-server' | 'start-server' | 'kill-server' | 'freeze-server' | 'thaw-server') => () =>
    run('bash', [endpoints.script, action, endpoints.state, 'ganesha'], { timeout: 120_000 }).then(() => undefined);

  runDriverFaultSuite({
    name: 'nfs',
    createDriver: () => create(),
    // AUTH_SYS carries no secret: "bad credentials" on NFS is an identity the export's folders refuse (the export
    // root and everything the driver makes as root are 0755 root-owned). The export root as base, so that the
    // refusal comes from a write, not from a base folder missing.
    badCredentials: {
      create: () => create({ uid: 12345, gid: 12345, base_dir: '', container: `${baseDir}-refused` }),
      message: /AUTH_SYS uid 12345 gid 12345 may not write there/,
    },
    missingContainer: { create: (name) => create({ container: name, create_container: false }), option: 'create_container' },
    // Two retries 50 ms apart on a refused connection: failing fast, not hanging.
    serverStopped: { stop: ganesha('stop-server'), start: ganesha('start-server'), message: /ECONNREFUSED/, failFastMs: 10_000 },
    unansweredRequest: {
      create: (url) => {
        const port = Number(new URL(url).port);
        return create({ nfs_port: port, mount_port: port, timeout: 0.3, retry_attempts: 1 });
      },
      withinMs: 5000,
      message: /no answer to MOUNT3 MNT within 0.3 s/,
    },
  });

  describe('nfs specifics', () => {
    let workDir = '';
    beforeAll(async () => {
      workDir = await mkdtemp(join(tmpdir(), 'stowage-nfs-faults-'));
    });
    afterAll(async () => {
      await ganesha('start-server')();
      if (workDir) await rm(workDir, { recursive: true, force: true });
    }, 120_000);

    it('a bad export path fails doSetup with a DriverSetupError naming the export', async () => {
      const driver = await create({ export: '/not-exported' });
      const error = await rejectionOf(driver.doSetup());
      expect(DriverSetupError.isInstance(error), String(error)).toBe(true);
      expect(error.message).toContain(`${endpoints.server}:/not-exported`);
      expect(error.message).toMatch(/MNT3ERR_(ACCES|NOENT)/);
      await driver.close?.();
    });

    it('the server frozen (SIGSTOP) in the middle of a backup: the RPC timeouts fail it, never a hang; once thawed, a delete leaves no object', async () => {
      // 2 s per RPC, one retry: outstanding calls time out, the retry's new connection is accepted by the kernel and
      // never answered either.
      const driver = await create({ timeout: 2, connect_timeout: 2, retry_attempts: 1 });
      await driver.doSetup();
      let frozenAt = 0;
      let failedAt = 0;
      const { error, orphans } = await runOutageDuringBackup({
        driver,
        container: driver.defaultContainer,
        workDir,
        stopServer: async () => {
          await ganesha('freeze-server')();
          frozenAt = Date.now();
        },
        startServer: async () => {
          failedAt = Date.now();
          await ganesha('thaw-server')();
        },
      });
      expect(StorageUnavailableError.isInstance(error), String(error)).toBe(true);
      expect((error as Error).message).toMatch(/got no answer in time .*no answer to NFS3 \w+ within 2 s/);
      expect(orphans).toEqual([]);
      console.log(`backup failed ${failedAt - frozenAt} ms after ganesha was frozen`);
      expect(failedAt - frozenAt).toBeLessThan(60_000);
      await driver.close?.();
    });

    it('a put into a missing container with create_container off is a NotFoundError naming the option', async () => {
      const container = `missing-${randomUUID().slice(0, 8)}`;
      const driver = await create({ container, create_container: false });
      const error = await rejectionOf(driver.putObject(container, 'a/b', Buffer.from('x'), { length: 1 }));
      expect(NotFoundError.isInstance(error), String(error)).toBe(true);
      expect(error.message).toMatch(new RegExp(`${container} does not exist .* create_container is false`));
      await driver.close?.();
    });

    it('the server stopped: every call fails with StorageUnavailableError within the configured timeout', async () => {
      // 1 s per call, one retry: 2 s and the backoff at most, whatever the server does.
      const driver = await create({ timeout: 1, connect_timeout: 1, retry_attempts: 1 });
      await driver.doSetup();
      await ganesha('stop-server')();
      try {
        for (const call of [() => driver.checkAvailable(), () => driver.putObject(driver.defaultContainer, 'k', Buffer.from('x'), { length: 1 })]) {
          const started = Date.now();
          const error = await rejectionOf(call());
          expect(StorageUnavailableError.isInstance(error), String(error)).toBe(true);
          expect(error.message).toMatch(/cannot reach the NFS server at 127\.0\.0\.1:\/backup/);
          expect(Date.now() - started).toBeLessThan(10_000);
        }
      } finally {
        await ganesha('start-server')();
      }
      await driver.checkAvailable();
      await driver.close?.();
    });

    it('the server killed (SIGKILL) in the middle of a backup fails it cleanly within the timeout; once back, a delete leaves no object', async () => {
      // 5 s per RPC, one retry: a call gives up within ~11 s on a dead connection; a hang would never end.
      const driver = await create({ timeout: 5, retry_attempts: 1 });
      await driver.doSetup();
      let killedAt = 0;
      let failedAt = 0;
      const { error, orphans } = await runOutageDuringBackup({
        driver,
        container: driver.defaultContainer,
        workDir,
        stopServer: async () => {
          await ganesha('kill-server')();
          killedAt = Date.now();
        },
        // Called once the backup has failed.
        startServer: async () => {
          failedAt = Date.now();
          await ganesha('start-server')();
        },
      });
      expect(StorageUnavailableError.isInstance(error), String(error)).toBe(true);
      expect(orphans).toEqual([]);
      console.log(`backup failed ${failedAt - killedAt} ms after ganesha was killed`);
      expect(failedAt - killedAt).toBeLessThan(30_000);
      await driver.close?.();
    });

    it('the server restarted in the middle of a put: the changed write verifier makes the driver send the data again', async () => {
      const warnings: string[] = [];
      const logger = { info: () => undefined, error: () => undefined, warn: (message: string) => warnings.push(message) };
      const driver = await createFromPlugin(
        plugin,
        { ...nfsOptions(endpoints), base_dir: baseDir, retry_attempts: 6, retry_backoff: 0.2 },
        { backendName: 'nfs-verifier', logger },
      );
      await driver.doSetup();
      const data = randomBytes(8 * MiB);
      const key = `verifier-${randomUUID()}`;
      const body = (async function* () {
        yield data.subarray(0, 4 * MiB);
        // The first half is written UNSTABLE (not committed) when ganesha restarts.
        await sleep(300);
        await ganesha('stop-server')();
        // ganesha's write verifier is its start time in whole seconds: a restart within the same second keeps it
        // (nothing to re-send, and no warning), which made this test depend on timing.
        await sleep(1100);
        await ganesha('start-server')();
        yield data.subarray(4 * MiB);
      })();
      await driver.putObject(driver.defaultContainer, key, body, { length: data.length });
      expect(warnings.some((message) => message.includes('write verifier changed')), warnings.join('\n')).toBe(true);
      const parts: Buffer[] = [];
      for await (const part of await driver.getObject(driver.defaultContainer, key)) parts.push(Buffer.from(part));
      expect(Buffer.concat(parts).equals(data)).toBe(true);
      await driver.deleteObject(driver.defaultContainer, key);
      await driver.close?.();
    });

    it('doSetup removes the temp files that interrupted writes left behind, once older than stale_temp_after_seconds', async () => {
      const infos: Array<Record<string, unknown> | undefined> = [];
      const logger = { info: (_: string, fields?: Record<string, unknown>) => infos.push(fields), error: () => undefined, warn: () => undefined };
      const driver = await createFromPlugin(
        plugin,
        { ...nfsOptions(endpoints), base_dir: baseDir, retry_attempts: 1, timeout: 2, stale_temp_after_seconds: 1 },
        { backendName: 'nfs-sweep', logger },
      );
      await driver.doSetup();
      const folder = join(endpoints.exportPath, baseDir, driver.defaultContainer, `sweep-${randomUUID()}`);
      const temps = async () => (await readdir(folder).catch(() => [] as string[])).filter((name) => name.startsWith('.stowage-tmp-'));
      // A put whose server dies half-way: its clean-up cannot reach the server, so the temp file stays.
      const body = (async function* () {
        yield Buffer.alloc(MiB, 1);
        await sleep(200);
        await ganesha('kill-server')();
        yield Buffer.alloc(MiB, 2);
      })();
      const put = await rejectionOf(driver.putObject(driver.defaultContainer, `${folder.split('/').pop()}/object`, body, { length: 2 * MiB }));
      expect(StorageUnavailableError.isInstance(put), String(put)).toBe(true);
      await ganesha('start-server')();
      expect(await temps()).toHaveLength(1);
      await sleep(1500);
      await driver.doSetup();
      expect(await temps()).toEqual([]);
      // The sweep covers the whole store: earlier tests that killed the server left temp files of their own.
      expect(Number(infos.at(-1)?.tempFiles), JSON.stringify(infos)).toBeGreaterThanOrEqual(1);
      await driver.close?.();
    });

    it('a folder handle gone stale (the folder removed and made again by another client) is looked up again once', async () => {
      const first = await create();
      const second = await create();
      await first.doSetup();
      const container = first.defaultContainer;
      const folder = `stale-${randomUUID()}/x/`;
      const put = (driver: typeof first, name: string) => driver.putObject(container, `${folder}${name}`, Buffer.from(name), { length: name.length });
      await put(first, 'one');
      // The second driver removes the object and with it the folders (now empty), then makes them again: the
      // first driver's cached handles now name folders that no longer exist.
      await second.deleteObject(container, `${folder}one`);
      await put(second, 'two');
      await put(first, 'three');
      const keys: string[] = [];
      for await (const key of first.listObjects(container, folder)) keys.push(key);
      expect(keys.sort()).toEqual([`${folder}three`, `${folder}two`]);
      for (const name of ['two', 'three']) await first.deleteObject(container, `${folder}${name}`);
      await first.close?.();
      await second.close?.();
    });

    it('finds the NFS and MOUNT ports through the portmapper when none are configured', async () => {
      const { nfs_port: _nfs, mount_port: _mount, ...withoutPorts } = nfsOptions(endpoints);
      const driver = await createFromPlugin(plugin, { ...withoutPorts, base_dir: baseDir }, { backendName: 'nfs-portmapper' });
      await driver.doSetup();
      await driver.checkAvailable();
      await driver.close?.();
    });

    it('the server restarted between calls: the next call of the same driver works', async () => {
      const driver = await create();
      await driver.doSetup();
      const key = `restart-${randomUUID()}`;
      await driver.putObject(driver.defaultContainer, key, Buffer.from('before'), { length: 6 });
      await ganesha('stop-server')();
      await ganesha('start-server')();
      const parts: Buffer[] = [];
      for await (const part of await driver.getObject(driver.defaultContainer, key)) parts.push(Buffer.from(part));
      expect(Buffer.concat(parts).toString()).toBe('before');
      await driver.deleteObject(driver.defaultContainer, key);
      await driver.close?.();
    });
  });
} else {
  describe.skip(`driver faults: nfs (${server.requirement.reason})`, () => {
    it('needs the NFS test server', () => {});
  });
}
