export { runDriverContractSuite, type ContractSuiteOptions, type DriverFixture } from './contract-suite.js';
export { MemoryStore, type MemoryStoreOptions } from './memory-store.js';
export { failingAfterPuts } from './fault-injection.js';
export {
  DEFAULT_MIX,
  SeededBytes,
  generateVolumeFile,
  mutateVolumeFile,
  planRuns,
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
export { measureDriverThroughput, type ThroughputOptions, type ThroughputReport } from './throughput.js';
export { rejectionOf } from './rejection.js';
export { ScriptedServer, drainError, type ScriptedHandler } from './scripted-server.js';
