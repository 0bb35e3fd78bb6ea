export {
  contractGroupsFor,
  runDriverContractSuite,
  type ContractGroup,
  type ContractSuiteOptions,
  type DriverFixture,
} from './contract-suite.js';
export { setupGroup } from './suite/setup-group.js';
export { primitivesGroup } from './suite/primitives-group.js';
export { engineGroup } from './suite/engine-group.js';
export { encryptionGroup, testDataKey } from './suite/encryption-group.js';
export { fastPathsGroup } from './suite/fast-paths-group.js';
export { checksumGroup } from './suite/checksum-group.js';
export type { SuiteContext } from './suite/suite-context.js';
export {
  runDriverFaultSuite,
  type BadCredentialsHooks,
  type FaultCase,
  type FaultSuiteOptions,
  type MissingContainerHooks,
  type ServerStoppedHooks,
  type UnansweredRequestHooks,
} from './fault-suite.js';
export { createFromPlugin } from './create-from-plugin.js';
export { SilentServer } from './silent-server.js';
export { MemoryStore, type MemoryStoreOptions } from './memory-store.js';
export { failingAfterPuts } from './fault-injection.js';
export {
  DEFAULT_MIX,
  SeededBytes,
  generateVolumeFile,
  mutateVolumeFile,
  planRuns,
  sameSparseContent,
  sha256File,
  type GenerateVolumeOptions,
  type MutateVolumeOptions,
  type RunKind,
  type VolumeMix,
} from './volume-files.js';
export { serverRequirement, type ServerRequirement } from './server-requirement.js';
export { testServer, type ServerEndpointsBase, type TestServer, type TestServerState } from './test-server.js';
export { runOutageDuringBackup, type OutageOutcome, type OutageScenario } from './outage-scenario.js';
export { swiftTestServer, type SwiftEndpoints } from './servers/swift-server.js';
export type { SshdEndpoints } from './servers/sshd-endpoints.js';
export { measureDriverThroughput, type ThroughputOptions, type ThroughputReport } from './throughput.js';
export { rejectionOf } from './rejection.js';
export { ScriptedServer, drainError, type ScriptedHandler } from './scripted-server.js';
export { FaultProxy, type FaultAction, type FaultRule, type ProxiedResponse } from './fault-proxy.js';
export { freePort } from './free-port.js';
