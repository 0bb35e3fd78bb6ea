/**
 * vitest `globalSetup` of @stowage/driver-gcs and the integration package: a throwaway GCS emulator (firebase-tools'
 * StorageEmulator in its own process) through gcs-emulator.mjs, stopped by PID afterwards (see
 * server-vitest-setup.ts). `STOWAGE_GCS_ENDPOINTS=<state>/endpoints.json` uses a running one. Tests read it with
 * `inject('gcsServer')`.
 */
import { serverGlobalSetup } from './server-vitest-setup.js';

/** What gcs-emulator.mjs writes to <state>/endpoints.json. */
interface GcsEndpoints {
  readonly state: string;
  readonly script: string;
  readonly endpoint: string;
  readonly projectId: string;
  readonly port: number;
}

export default serverGlobalSetup<GcsEndpoints>({
  key: 'gcsServer',
  title: 'the GCS emulator',
  script: 'gcs-emulator.mjs',
  envVar: 'STOWAGE_GCS_ENDPOINTS',
  startTimeoutMs: 120_000,
  stopTimeoutMs: 180_000,
  startNeeds: '(after pnpm install)',
  where: (endpoints) => endpoints.endpoint,
});
