/**
 * The shared fault suite against the real ganesha (a uid the export refuses, a missing container, the server
 * stopped before and in the middle of a backup, a request never answered), and what only NFS has: a bad export path,
 * the server killed (SIGKILL) in the middle of a backup, a restart seen by the same driver.
 */
import { DriverSetupError, StorageUnavailableError } from '@stowage/driver-contract';
import { rejectionOf, runDriverFaultSuite, runOutageDuringBackup } from '@stowage/testkit';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNfsDriver, nfsTestServer } from './nfs-test-helpers.js';

const run = promisify(execFile);
const server = nfsTestServer();

if (server.requirement.available) {
  const endpoints = server.endpoints();
  const baseDir = `faults-${randomUUID().slice(0, 8)}`;
  const create = (overrides: Record<string, unknown> = {}) => createNfsDriver(endpoints, 'nfs-faults', { base_dir: baseDir, ...overrides });
  const ganesha = (action: 'stop-server' | 'start-server' | 'kill-server') => () =>
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

    it('the server killed (SIGKILL) in the middle of a backup fails it cleanly; once back, a delete leaves no object', async () => {
      const driver = await create({ timeout: 5, retry_attempts: 1 });
      await driver.doSetup();
      const started = Date.now();
      const { error, orphans } = await runOutageDuringBackup({
        driver,
        container: driver.defaultContainer,
        workDir,
        stopServer: ganesha('kill-server'),
        startServer: ganesha('start-server'),
      });
      expect(StorageUnavailableError.isInstance(error), String(error)).toBe(true);
      expect(orphans).toEqual([]);
      console.log(`backup failed and was cleaned up ${Date.now() - started} ms after it started`);
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
