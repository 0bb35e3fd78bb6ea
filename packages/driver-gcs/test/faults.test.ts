/**
 * The shared fault suite against the GCS emulator. What the emulator cannot show by itself (it has no auth and
 * creates buckets implicitly) goes through the testkit's FaultProxy in front of it: tokens signed by the wrong
 * service-account key are refused with GCS's 401, and buckets named `stowage-missing-*` answer GCS's 404.
 */
import { FaultProxy, runDriverFaultSuite, type TestServer } from '@stowage/testkit';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, it } from 'vitest';
import {
  createGcsDriver,
  emptyBucket,
  gcsError,
  gcsTestOptions,
  gcsTestServer,
  keyedOptions,
  makeServiceAccount,
  requireSignedBy,
  type GcsEndpoints,
  type TestServiceAccount,
} from './gcs-test-helpers.js';

const server: TestServer<GcsEndpoints> = gcsTestServer();

if (server.requirement.available) {
  const { endpoint } = server.endpoints();
  const bucket = `stowage-faults-${randomUUID().slice(0, 8)}`;
  const proxy = new FaultProxy(endpoint);
  let backup: TestServiceAccount;
  let intruder: TestServiceAccount;
  const emulator = (action: 'stop-server' | 'start-server') => () => server.control(action, 'emulator');

  beforeAll(async () => {
    await proxy.start();
    backup = await makeServiceAccount('backup');
    intruder = await makeServiceAccount('intruder');
    proxy.reset((request) => {
      if (/\/b\/stowage-missing-[^/]+\/o/.test(request.url ?? '')) return gcsError(404, 'The specified bucket does not exist.', 'notFound');
      return requireSignedBy(backup)(request);
    });
  });
  afterAll(async () => {
    await emptyBucket(await createGcsDriver(gcsTestOptions(endpoint, bucket)), bucket);
    await proxy.close();
    await Promise.all([backup?.remove(), intruder?.remove()]);
  });

  runDriverFaultSuite({
    name: 'gcs',
    createDriver: () => createGcsDriver(gcsTestOptions(endpoint, bucket), 'gcs-faults'),
    badCredentials: {
      create: () => createGcsDriver(keyedOptions(proxy, intruder, bucket), 'gcs-faults'),
      message: /authentication as service account intruder@stowage-test\.iam\.gserviceaccount\.com/,
    },
    missingContainer: {
      create: (name) => createGcsDriver(keyedOptions(proxy, backup, name, { create_bucket: false }), 'gcs-faults'),
      option: 'create_bucket',
    },
    serverStopped: { stop: emulator('stop-server'), start: emulator('start-server'), message: /ECONNREFUSED/, failFastMs: 20_000 },
    unansweredRequest: { create: (url) => createGcsDriver(gcsTestOptions(url, bucket, { timeout: 0.5, retry_attempts: 1 })), withinMs: 5000, message: /no answer within 0.5 s/ },
  });
} else {
  describe.skip(`driver faults: gcs (${server.requirement.reason})`, () => {
    it('needs the GCS emulator', () => {});
  });
}
