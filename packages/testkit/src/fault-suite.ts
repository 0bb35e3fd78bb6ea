import { DriverSetupError, StorageAuthError, StorageUnavailableError, type StorageDriver } from '@stowage/core';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runOutageDuringBackup } from './outage-scenario.js';
import { rejectionOf } from './rejection.js';
import { SilentServer } from './silent-server.js';
import { getBytes, listKeys, putBytes } from './suite/helpers.js';

/** A case the driver takes part in, or says why it cannot (shown as a skipped test with the reason). */
export type FaultCase<Hooks> = Hooks | { readonly notApplicable: string };

export interface BadCredentialsHooks {
  /** A driver for the real server with credentials it refuses. */
  readonly create: () => Promise<StorageDriver>;
  /** What the `DriverSetupError` must say, e.g. `/authentication as user test:tester/`. */
  readonly message: RegExp;
}

export interface MissingContainerHooks {
  /** A driver whose default container is `name`, which does not exist, with its creation turned off. */
  readonly create: (name: string) => Promise<StorageDriver>;
  /** The option that would allow creating it (`create_container`); the error must name it. */
  readonly option: string;
}

export interface ServerStoppedHooks {
  /** Stop the real server (or take the storage away) and resolve once it is gone. */
  readonly stop: () => Promise<void>;
  readonly start: () => Promise<void>;
  /** What the `StorageUnavailableError` of a call must say, e.g. `/ECONNREFUSED/`. */
  readonly message?: RegExp;
  /** Calls fail within this long while the server is down (default 20 s): failing fast, not hanging. */
  readonly failFastMs?: number;
}

export interface UnansweredRequestHooks {
  /** A driver whose endpoint is `url`: a server that accepts connections and never answers. */
  readonly create: (url: string) => Promise<StorageDriver>;
  /** Every call gives up within this long (set the driver's timeouts and retries to fit). */
  readonly withinMs: number;
  /** What the `StorageUnavailableError` must say, e.g. `/no answer within/`. */
  readonly message?: RegExp;
}

export interface FaultSuiteOptions {
  /** Shown in test names, e.g. `swift`. */
  readonly name: string;
  /** A working driver on the real server; each case that needs one gets a new one. */
  readonly createDriver: () => Promise<StorageDriver>;
  readonly badCredentials: FaultCase<BadCredentialsHooks>;
  readonly missingContainer: FaultCase<MissingContainerHooks>;
  /** Used for two cases: the server stopped (then started), and stopped in the middle of a backup. */
  readonly serverStopped: FaultCase<ServerStoppedHooks>;
  readonly unansweredRequest: FaultCase<UnansweredRequestHooks>;
  /** Per-test timeout (default 120 s). */
  readonly timeoutMs?: number;
  /** Runs after the suite, whatever happened (remove the containers the drivers created). */
  readonly cleanup?: () => Promise<void>;
}

function applicable<Hooks>(value: FaultCase<Hooks>): value is Hooks {
  return !(typeof value === 'object' && value !== null && 'notApplicable' in value);
}

/** Registers `title` as a test with `hooks`, or as a skipped test that says why the driver has no such case. */
function faultCase<Hooks>(title: string, value: FaultCase<Hooks>, run: (hooks: Hooks) => Promise<void>): void {
  if (applicable(value)) it(title, () => run(value));
  else it.skip(`${title} (not applicable: ${value.notApplicable})`, () => undefined);
}

async function timed<T>(promise: Promise<T>): Promise<{ value: T; ms: number }> {
  const started = Date.now();
  const value = await promise;
  return { value, ms: Date.now() - started };
}

/**
 * The failures every driver must meet the same way, against its real server: bad credentials, a missing container
 * with creation off, the server stopped (and started again: the same driver recovers), the server stopped in the
 * middle of a backup (the backup fails cleanly and a later delete leaves nothing), a request never answered.
 * A driver passes a few hooks; a case that cannot apply to it is declared with the reason.
 */
export function runDriverFaultSuite(options: FaultSuiteOptions): void {
  const drivers: StorageDriver[] = [];
  const track = async (made: Promise<StorageDriver>): Promise<StorageDriver> => {
    const driver = await made;
    drivers.push(driver);
    return driver;
  };
  let workDir = '';

  describe(`driver faults: ${options.name}`, { timeout: options.timeoutMs ?? 120_000 }, () => {
    beforeAll(async () => {
      workDir = await mkdtemp(join(tmpdir(), `stowage-faults-${options.name}-`));
    });

    afterAll(async () => {
      // Whatever happened, leave the server running for the next test file.
      if (applicable(options.serverStopped)) await options.serverStopped.start();
      for (const driver of drivers) await driver.close?.().catch(() => undefined);
      await options.cleanup?.();
      if (workDir) await rm(workDir, { recursive: true, force: true });
    }, 300_000);

    faultCase('bad credentials fail doSetup with a DriverSetupError naming authentication', options.badCredentials, async (hooks) => {
      const driver = await track(hooks.create());
      const error = await rejectionOf(driver.doSetup());
      expect(DriverSetupError.isInstance(error), String(error)).toBe(true);
      expect(error.message).toMatch(hooks.message);
      expect(StorageAuthError.isInstance(error.cause), `cause: ${String(error.cause)}`).toBe(true);
      // Outside doSetup the same refusal is a StorageAuthError.
      const put = await rejectionOf(putBytes(driver, driver.defaultContainer, `faults-${randomUUID()}`, Buffer.from('x')));
      expect(StorageAuthError.isInstance(put), String(put)).toBe(true);
    });

    faultCase('a missing container with creation off fails doSetup naming the container and the option', options.missingContainer, async (hooks) => {
      const missing = `stowage-missing-${randomUUID().slice(0, 8)}`;
      const driver = await track(hooks.create(missing));
      const error = await rejectionOf(driver.doSetup());
      expect(DriverSetupError.isInstance(error), String(error)).toBe(true);
      expect(error.message).toContain(missing);
      expect(error.message).toContain('does not exist');
      expect(error.message).toContain(hooks.option);
      // Drivers whose containers are named fields say which one.
      expect([undefined, missing]).toContain((error as DriverSetupError).container);
      // The heartbeat's check says the same, so the backend stays down until someone creates it.
      const check = await rejectionOf(driver.checkAvailable());
      expect(StorageUnavailableError.isInstance(check), String(check)).toBe(true);
      expect(check.message).toContain(missing);
    });

    faultCase('the server stopped gives StorageUnavailableError fast, and the same driver works once it is back', options.serverStopped, async (hooks) => {
      const driver = await track(options.createDriver());
      await driver.doSetup();
      const container = driver.defaultContainer;
      const prefix = `faults-${randomUUID()}/`;
      await putBytes(driver, container, `${prefix}before-stop`, Buffer.from('x'));
      await hooks.stop();
      try {
        const failFast = hooks.failFastMs ?? 20_000;
        const check = await timed(rejectionOf(driver.checkAvailable()));
        expect(StorageUnavailableError.isInstance(check.value), String(check.value)).toBe(true);
        if (hooks.message) expect(check.value.message).toMatch(hooks.message);
        expect(check.ms).toBeLessThan(failFast);

        const key = `${prefix}during-stop`;
        const put = await timed(rejectionOf(putBytes(driver, container, key, Buffer.from('y'))));
        expect(StorageUnavailableError.isInstance(put.value), String(put.value)).toBe(true);
        expect((put.value as StorageUnavailableError).object).toBe(key);
        expect(put.ms).toBeLessThan(failFast);

        // An outage is not a missing object: the engine must not report data loss.
        const get = await rejectionOf(getBytes(driver, container, `${prefix}before-stop`));
        expect(StorageUnavailableError.isInstance(get), String(get)).toBe(true);

        const setup = await timed(rejectionOf(driver.doSetup()));
        expect(DriverSetupError.isInstance(setup.value), String(setup.value)).toBe(true);
        expect(setup.ms).toBeLessThan(failFast);
      } finally {
        await hooks.start();
      }
      // No new driver: it reconnects by itself.
      await driver.checkAvailable();
      await putBytes(driver, container, `${prefix}after-restart`, Buffer.from('z'));
      expect((await getBytes(driver, container, `${prefix}before-stop`)).toString()).toBe('x');
      expect((await listKeys(driver, container, prefix)).sort()).toEqual([`${prefix}after-restart`, `${prefix}before-stop`]);
    });

    faultCase('the server stopped in the middle of a backup fails it cleanly; once back, a delete leaves no orphans', options.serverStopped, async (hooks) => {
      const driver = await track(options.createDriver());
      await driver.doSetup();
      const { error, orphans } = await runOutageDuringBackup({
        driver,
        container: driver.defaultContainer,
        workDir,
        stopServer: hooks.stop,
        startServer: hooks.start,
      });
      expect(StorageUnavailableError.isInstance(error), String(error)).toBe(true);
      expect(orphans).toEqual([]);
    });

    faultCase('a request that is never answered is given up within its timeout', options.unansweredRequest, async (hooks) => {
      const silent = await new SilentServer().start();
      try {
        const driver = await track(hooks.create(silent.url));
        const check = await timed(rejectionOf(driver.checkAvailable()));
        expect(StorageUnavailableError.isInstance(check.value), String(check.value)).toBe(true);
        if (hooks.message) expect(check.value.message).toMatch(hooks.message);
        expect(check.ms).toBeLessThan(hooks.withinMs);

        const key = `faults-${randomUUID()}`;
        const put = await timed(rejectionOf(putBytes(driver, driver.defaultContainer, key, Buffer.from('x'))));
        expect(StorageUnavailableError.isInstance(put.value), String(put.value)).toBe(true);
        expect(put.ms).toBeLessThan(hooks.withinMs);

        const setup = await timed(rejectionOf(driver.doSetup()));
        expect(DriverSetupError.isInstance(setup.value), String(setup.value)).toBe(true);
        expect(setup.ms).toBeLessThan(hooks.withinMs);
        expect(silent.connections, 'the driver never connected to the silent server').toBeGreaterThan(0);
      } finally {
        await silent.close();
      }
    });
  });
}
