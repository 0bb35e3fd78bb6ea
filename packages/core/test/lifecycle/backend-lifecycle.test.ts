import { afterEach, describe, expect, it } from 'vitest';
import { BackendLifecycle, SETUP_TIMEOUT_CODE, type BackendState } from '../../src/lifecycle/backend-lifecycle.js';
import { Notifier } from '../../src/lifecycle/notifier.js';
import { MemorySink, scriptedDriver, waitFor } from './fakes.js';

const lifecycles: BackendLifecycle[] = [];

afterEach(async () => {
  await Promise.all(lifecycles.splice(0).map((lifecycle) => lifecycle.stop()));
});

function setup(options: {
  script: () => 'ok' | 'fail' | 'hang';
  periodic?: boolean;
  timeoutMs?: number;
  cleanup?: () => Promise<void>;
}) {
  const sink = new MemorySink();
  const notifier = new Notifier({ host: 'node1', sinks: [sink] });
  const { driver, stats } = scriptedDriver(options.script);
  const calls: string[] = [];
  const states: BackendState[] = [];
  let heartbeats = 0;
  const lifecycle = new BackendLifecycle({
    serviceHost: 'node1@b1',
    backendName: 'b1',
    driverName: 'scripted',
    driver,
    notifier,
    reportIntervalMs: 20,
    periodicIntervalMs: 30,
    initializationTimeoutMs: options.timeoutMs ?? 500,
    periodicInitialization: options.periodic ?? true,
    hooks: {
      async cleanupIncompleteOperations() {
        calls.push('cleanup');
        await options.cleanup?.();
      },
      async reportHeartbeat() {
        heartbeats += 1;
      },
      async reportState(state) {
        states.push(state);
      },
    },
  });
  lifecycles.push(lifecycle);
  const originalSetup = driver.doSetup.bind(driver);
  driver.doSetup = async (callOptions) => {
    calls.push('setup');
    return originalSetup(callOptions);
  };
  return { lifecycle, sink, stats, calls, states, heartbeats: () => heartbeats };
}

describe('BackendLifecycle', () => {
  it('cleans up first, then sets up; success makes it working, sends init.start/init.end and heartbeats', async () => {
    const t = setup({ script: () => 'ok' });
    expect(t.lifecycle.isWorking()).toBe(false);
    expect(await t.lifecycle.initHost()).toBe(true);
    expect(t.calls.slice(0, 2)).toEqual(['cleanup', 'setup']);
    expect(t.lifecycle.isWorking()).toBe(true);
    await waitFor(() => t.sink.messages.length >= 2);
    expect(t.sink.events()).toEqual(['backup.init.start', 'backup.init.end']);
    const end = t.sink.payloads('backup.init.end')[0]!;
    expect(end).toMatchObject({ host: 'node1@b1', backend: 'b1', driver: 'scripted', attempt: 1 });
    expect(t.sink.messages[0]!.publisher_id).toBe('backup.node1');
    await waitFor(() => t.heartbeats() >= 3);
    expect(t.states).toContain('up');
  });

  it('a failed setup leaves it down, reports init.error with attempt and next attempt, retries until success', async () => {
    let attempt = 0;
    const t = setup({ script: () => (++attempt < 3 ? 'fail' : 'ok') });
    expect(await t.lifecycle.initHost()).toBe(false);
    expect(t.lifecycle.isWorking()).toBe(false);
    expect(t.lifecycle.status.state).toBe('down');
    expect(t.heartbeats()).toBe(0);
    await waitFor(() => t.lifecycle.isWorking(), 3000);
    const errors = t.sink.payloads('backup.init.error');
    expect(errors).toHaveLength(2);
    expect(errors[0]).toMatchObject({
      host: 'node1@b1',
      backend: 'b1',
      driver: 'scripted',
      attempt: 1,
      error_code: 'DRIVER_SETUP',
      error_message: 'storage path is not a directory',
    });
    expect(typeof errors[0]!.next_attempt_at).toBe('string');
    expect(errors[1]).toMatchObject({ attempt: 2 });
    expect(t.sink.payloads('backup.init.end')[0]).toMatchObject({ attempt: 3 });
    expect(t.sink.messages.find((m) => m.event_type === 'backup.init.error')!.priority).toBe('ERROR');
    // Every attempt is announced.
    expect(t.sink.payloads('backup.init.start').map((p) => p.attempt)).toEqual([1, 2, 3]);
    expect(t.stats.maxConcurrent).toBe(1);
  });

  it('with periodic initialisation off, a failed backend stays down', async () => {
    const t = setup({ script: () => 'fail', periodic: false });
    await t.lifecycle.initHost();
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(t.stats.setups).toBe(1);
    expect(t.lifecycle.isWorking()).toBe(false);
    expect(t.sink.payloads('backup.init.error')[0]!.next_attempt_at).toBeNull();
  });

  it('cuts off a hung doSetup after the initialisation timeout and keeps retrying without overlap', async () => {
    let attempt = 0;
    const t = setup({ script: () => (++attempt === 1 ? 'hang' : 'ok'), timeoutMs: 60 });
    const started = Date.now();
    expect(await t.lifecycle.initHost()).toBe(false);
    expect(Date.now() - started).toBeLessThan(400);
    const error = t.sink.payloads('backup.init.error')[0]!;
    expect(error.error_code).toBe(SETUP_TIMEOUT_CODE);
    expect(String(error.error_message)).toMatch(/did not finish within 0.060 s/);
    await waitFor(() => t.lifecycle.isWorking());
    expect(t.stats.maxConcurrent).toBe(1);
  });

  it('a failing cleanup is logged and setup still runs', async () => {
    const t = setup({ script: () => 'ok', cleanup: async () => Promise.reject(new Error('db locked')) });
    expect(await t.lifecycle.initHost()).toBe(true);
  });

  it('markNotWorking stops heartbeats and hands the backend to periodic setup', async () => {
    let healthy = true;
    const t = setup({ script: () => (healthy ? 'ok' : 'fail') });
    await t.lifecycle.initHost();
    healthy = false;
    t.lifecycle.markNotWorking(new Error('ECONNREFUSED'));
    expect(t.lifecycle.isWorking()).toBe(false);
    expect(t.lifecycle.status.lastFailure?.message).toBe('ECONNREFUSED');
    const beats = t.heartbeats();
    await waitFor(() => t.sink.payloads('backup.init.error').length >= 1);
    expect(t.heartbeats()).toBe(beats);
    expect(t.sink.payloads('backup.init.error')[0]!.attempt).toBe(1);
    healthy = true;
    await waitFor(() => t.lifecycle.isWorking());
    await waitFor(() => t.heartbeats() > beats);
  });

  it('a heartbeat checks the storage first: unreachable storage takes the backend down, setup brings it back', async () => {
    let reachable = true;
    const t = setup({ script: () => (reachable ? 'ok' : 'fail') });
    const { driver } = t.lifecycle;
    driver.checkAvailable = async () => {
      if (!reachable) throw new Error('connect ECONNREFUSED 127.0.0.1:8080');
    };
    expect(await t.lifecycle.initHost()).toBe(true);
    await waitFor(() => t.heartbeats() >= 2);
    reachable = false;
    await waitFor(() => !t.lifecycle.isWorking());
    const beatsWhileDown = t.heartbeats();
    expect(t.lifecycle.status.lastFailure?.message).toContain('ECONNREFUSED');
    expect(t.states.at(-1)).toBe('down');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(t.heartbeats()).toBe(beatsWhileDown);
    reachable = true;
    await waitFor(() => t.lifecycle.isWorking());
    await waitFor(() => t.heartbeats() > beatsWhileDown);
  });

  it('checkStorage (the check before a create) is the heartbeat\'s check: joined while in flight, and a failure takes the backend down', async () => {
    const t = setup({ script: () => 'ok' });
    const { driver } = t.lifecycle;
    expect(await t.lifecycle.checkStorage()).toMatch(/^backend not working \(driver not initialised\)/);
    expect(await t.lifecycle.initHost()).toBe(true);
    let checks = 0;
    let release: () => void = () => undefined;
    driver.checkAvailable = () => {
      checks += 1;
      return new Promise<void>((resolve) => {
        release = resolve;
      });
    };
    const first = t.lifecycle.checkStorage();
    const second = t.lifecycle.checkStorage();
    release();
    expect(await first).toBeUndefined();
    expect(await second).toBeUndefined();
    expect(checks).toBe(1);

    driver.checkAvailable = async () => {
      throw new Error('connect ECONNREFUSED 127.0.0.1:8080');
    };
    expect(await t.lifecycle.checkStorage()).toMatch(/^storage unreachable: connect ECONNREFUSED/);
    expect(t.lifecycle.isWorking()).toBe(false);
    expect(t.lifecycle.status.lastFailure?.message).toContain('ECONNREFUSED');
  });

  it('stop() clears timers: no further setup attempts', async () => {
    const t = setup({ script: () => 'fail' });
    await t.lifecycle.initHost();
    await t.lifecycle.stop();
    const setups = t.stats.setups;
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(t.stats.setups).toBe(setups);
    expect(t.lifecycle.status.state).toBe('stopped');
    expect(t.states.at(-1)).toBe('stopped');
  });

  it('rejects non-positive intervals', () => {
    expect(() => setup({ script: () => 'ok', timeoutMs: 0 })).toThrow(/initializationTimeoutMs/);
  });
});
