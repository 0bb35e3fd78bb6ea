/**
 * vitest `globalSetup` shared by @stowage/driver-swift, @stowage/driver-s3 and the integration package: a throwaway
 * Swift cluster (with s3api) through swift.sh, stopped by PID afterwards (see server-vitest-setup.ts).
 * `STOWAGE_SWIFT_ENDPOINTS=<state>/endpoints.json` uses a running one. Tests read it with `inject('swiftServer')`.
 */
import type { SwiftEndpoints } from '@stowage/testkit';
import { serverGlobalSetup } from './server-vitest-setup.js';

export default serverGlobalSetup<SwiftEndpoints>({
  key: 'swiftServer',
  title: 'the Swift test cluster',
  script: 'swift.sh',
  envVar: 'STOWAGE_SWIFT_ENDPOINTS',
  startTimeoutMs: 300_000,
  stopTimeoutMs: 120_000,
  startNeeds: '(as root)',
  where: (endpoints) => endpoints.proxyUrl,
});
