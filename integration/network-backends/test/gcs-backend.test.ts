/**
 * The backup service with a GCS backend on the emulator (scripts/servers/gcs-emulator.mjs): up, a byte-identical
 * 256 MiB round trip, down when the emulator stops (a backup created meanwhile fails clearly), and up again through
 * periodic initialisation when it comes back.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { testServer } from '@stowage/testkit';
import { describeSingleBackendService } from './service-scenario.js';

const run = promisify(execFile);

/** What gcs-emulator.mjs writes to <state>/endpoints.json. */
interface GcsEndpoints {
  readonly state: string;
  readonly script: string;
  readonly endpoint: string;
}

const server = testServer<GcsEndpoints>('gcsServer', 'the GCS emulator');

describeSingleBackendService({
  label: 'gcs',
  title: 'a GCS backend',
  serverName: 'the emulator',
  available: server.requirement.available,
  backend: { name: 'gcs1', zone: 'zone-gcs', driver: '@stowage/driver-gcs' },
  options: () => ({ api_endpoint: server.endpoints().endpoint, anonymous: true, bucket: 'stowage-it-gcs', timeout: 5, retry_attempts: 1 }),
  // The emulator's script is a node script (testkit's control runs bash). Stopping takes a while: the emulator
  // exports its objects first, and its port closes at the end.
  control: async (action) => {
    const { script, state } = server.endpoints();
    await run(process.execPath, [script, action, state, 'emulator'], { timeout: 180_000 });
  },
  timeoutMs: 300_000,
  outageTimeoutMs: 120_000,
});
