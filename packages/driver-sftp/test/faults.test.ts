/**
 * The shared fault suite against the real sshd (wrong key, a missing container, sshd stopped before and in the
 * middle of a backup, a server that never answers), and what only SFTP has: a wrong host key, an unusable private
 * key, a restart between two calls, a timeout that bounds a call on a server that stopped answering.
 */
import { DriverSetupError, StorageAuthError, StorageUnavailableError } from '@stowage/core';
import { rejectionOf, runDriverFaultSuite, runOutageDuringBackup } from '@stowage/testkit';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { createSftp, freezeSshd, removeServerFolder, run, sshdTestServer, strangerKey } from './sftp-test-helpers.js';

const server = sshdTestServer();

async function readAll(body: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const part of body) parts.push(part);
  return Buffer.concat(parts);
}

if (server.requirement.available) {
  const endpoints = server.endpoints();
  const path = `faults-${randomUUID().slice(0, 8)}`;
  const create = (overrides: Record<string, unknown> = {}) => createSftp(endpoints, path, overrides, 'sftp-faults');
  const sshd = (action: 'stop-server' | 'start-server') => () => server.control(action, 'sshd');
  let keysDir = '';
  let stranger = '';

  beforeAll(async () => {
    keysDir = await mkdtemp(join(tmpdir(), 'stowage-sftp-keys-'));
    stranger = await strangerKey(keysDir);
  });
  afterAll(async () => {
    await rm(keysDir, { recursive: true, force: true });
  });

  runDriverFaultSuite({
    name: 'sftp',
    createDriver: () => create(),
    // A key pair the server's authorized_keys does not hold.
    badCredentials: { create: () => create({ private_key_path: stranger }), message: new RegExp(`authentication as root@127\\.0\\.0\\.1:${endpoints.port} failed`) },
    missingContainer: { create: (name) => create({ container: name, create_container: false }), option: 'create_container' },
    serverStopped: { stop: sshd('stop-server'), start: sshd('start-server'), message: /ECONNREFUSED/, failFastMs: 10_000 },
    unansweredRequest: {
      create: (url) => create({ port: Number(new URL(url).port), connect_timeout: 0.5, timeout: 1, retry_attempts: 1 }),
      withinMs: 5000,
      message: /no answer from 127\.0\.0\.1:\d+ within connect_timeout 0\.5 s/,
    },
    cleanup: () => removeServerFolder(endpoints, path),
  });

  describe('sftp specifics', () => {
    it('refuses a server whose host key is not the pinned one, naming both fingerprints', async () => {
      const pinned = 'SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
      const driver = await create({ host_key_fingerprint: pinned });
      const error = await rejectionOf(driver.doSetup());
      expect(DriverSetupError.isInstance(error), String(error)).toBe(true);
      expect(error.message).toContain(`host key verification of 127.0.0.1:${endpoints.port} failed`);
      expect(error.message).toContain(endpoints.hostKeyFingerprint);
      expect(error.message).toContain(pinned);
      expect(StorageAuthError.isInstance(error.cause)).toBe(true);
      const put = await rejectionOf(driver.putObject(driver.defaultContainer, 'x', Buffer.from('x'), { length: 1 }));
      expect(StorageAuthError.isInstance(put), String(put)).toBe(true);
      await driver.close?.();
    });

    it('names an unreadable private key file in the setup error', async () => {
      const driver = await create({ private_key_path: join(keysDir, 'missing') });
      const error = await rejectionOf(driver.doSetup());
      expect(DriverSetupError.isInstance(error), String(error)).toBe(true);
      expect(error.message).toMatch(/cannot read private_key_path .*missing/);
    });

    it('decrypts a key with passphrase_env, and names a wrong passphrase as such', async () => {
      const locked = join(keysDir, 'locked_ed25519');
      await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'right horse battery', '-f', locked]);
      process.env.STOWAGE_TEST_SFTP_PASSPHRASE = 'wrong';
      const wrong = await rejectionOf((await create({ private_key_path: locked, passphrase_env: 'STOWAGE_TEST_SFTP_PASSPHRASE' })).doSetup());
      expect(DriverSetupError.isInstance(wrong), String(wrong)).toBe(true);
      expect(wrong.message).toContain(`cannot use the private key from private_key_path ${locked}`);
      expect(wrong.message).not.toContain('wrong');
      // The right passphrase opens the key; this server does not know it, so the login itself is refused.
      process.env.STOWAGE_TEST_SFTP_PASSPHRASE = 'right horse battery';
      const refused = await rejectionOf((await create({ private_key_path: locked, passphrase_env: 'STOWAGE_TEST_SFTP_PASSPHRASE' })).doSetup());
      expect(refused.message).toMatch(/authentication as root@127\.0\.0\.1:\d+ failed/);
      delete process.env.STOWAGE_TEST_SFTP_PASSPHRASE;
    });

    it('takes the key from an environment variable, and accepts an unpinned host only with a warning', async () => {
      process.env.STOWAGE_TEST_SFTP_KEY = (await import('node:fs')).readFileSync(endpoints.privateKeyPath, 'utf8');
      const warnings: string[] = [];
      const logger = { info: () => {}, error: () => {}, warn: (message: string, fields?: Record<string, unknown>) => warnings.push(`${message} ${JSON.stringify(fields)}`) };
      const { createFromPlugin } = await import('@stowage/testkit');
      const plugin = (await import('../src/index.js')).default;
      const driver = await createFromPlugin(
        plugin,
        { host: endpoints.host, port: endpoints.port, username: endpoints.user, private_key_env: 'STOWAGE_TEST_SFTP_KEY', insecure_skip_host_key_check: true, path },
        { backendName: 'sftp-env', logger },
      );
      await driver.doSetup();
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toContain('NOT verified');
      expect(warnings[0]).toContain(endpoints.hostKeyFingerprint);
      expect(warnings.join(' ')).not.toContain('PRIVATE KEY');
      await driver.close?.();
      delete process.env.STOWAGE_TEST_SFTP_KEY;
    });

    it('refuses a config without a host key fingerprint, naming the field and the fix', async () => {
      const error = await rejectionOf(create({ host_key_fingerprint: undefined }));
      expect(error.message).toContain('host_key_fingerprint');
      expect(error.message).toContain('ssh-keygen -l -E sha256');
    });

    it('works on the next call after sshd restarts, with the same driver (its pooled connections died)', async () => {
      const driver = await create();
      await driver.doSetup();
      const key = `restart-${randomUUID()}`;
      await driver.putObject(driver.defaultContainer, key, Buffer.from('before'), { length: 6 });
      await sshd('stop-server')();
      await sshd('start-server')();
      expect((await readAll(await driver.getObject(driver.defaultContainer, key))).toString()).toBe('before');
      await driver.putObject(driver.defaultContainer, key, Buffer.from('after!'), { length: 6 });
      expect((await readAll(await driver.getObject(driver.defaultContainer, key))).toString()).toBe('after!');
      await driver.deleteObject(driver.defaultContainer, key);
      await driver.close?.();
    });

    it('a server frozen in the middle of a backup (no reset, no answer) fails it within the timeouts; once back, a delete leaves nothing', async () => {
      // SIGSTOP on sshd and its sessions: connections stay open and silent, only the driver's timeouts end the calls.
      const driver = await create({ timeout: 3, connect_timeout: 2, retry_attempts: 2, retry_backoff: 0.05 });
      await driver.doSetup();
      let frozenAt = 0;
      let failedAfter = 0;
      const { error, orphans } = await runOutageDuringBackup({
        driver,
        container: driver.defaultContainer,
        workDir: keysDir,
        stopServer: async () => {
          await freezeSshd(endpoints, 'SIGSTOP');
          frozenAt = Date.now();
        },
        startServer: async () => {
          failedAfter = Date.now() - frozenAt;
          await freezeSshd(endpoints, 'SIGCONT');
        },
      });
      expect(StorageUnavailableError.isInstance(error), String(error)).toBe(true);
      console.log(`frozen server: the backup failed ${failedAfter} ms after the freeze: ${(error as Error).message}`);
      expect((error as Error).message).toMatch(/no answer/);
      // Attempts of 3 s plus reconnects of 2 s: well under a minute, never a hang.
      expect(failedAfter).toBeLessThan(60_000);
      expect(orphans).toEqual([]);
      await driver.close?.();
    });

    it('gives up an upload that stalls within the configured timeout (never hangs)', async () => {
      const driver = await create({ timeout: 2, retry_attempts: 1 });
      await driver.doSetup();
      // A stream that stalls forever after its first part: the per-operation timeout must end the call.
      const stalled = Readable.from(
        (async function* () {
          yield Buffer.alloc(1024);
          await new Promise(() => undefined);
        })(),
      );
      const started = Date.now();
      const error = await rejectionOf(driver.putObject(driver.defaultContainer, `stall-${randomUUID()}`, stalled, { length: 4096 }));
      expect(StorageUnavailableError.isInstance(error), String(error)).toBe(true);
      expect(error.message).toMatch(/no answer within 2 s/);
      expect(Date.now() - started).toBeLessThan(15_000);
      await driver.close?.();
    });
  });
} else {
  describe.skip(`driver faults: sftp (${server.requirement.reason})`, () => {
    it('needs the SFTP test server', () => {});
  });
}
