import { MemoryStore } from '../src/memory-store.js';
import { runDriverContractSuite } from '../src/contract-suite.js';

// The suite tests itself against the reference store: a suite that cannot pass here is a broken suite.
runDriverContractSuite({
  name: 'memory',
  setup: async () => ({ driver: new MemoryStore({ backendName: 'memory-reference' }) }),
  createBrokenDriver: () => new MemoryStore({ failSetup: 'the store is configured to refuse setup' }),
});
