import { describe, expect, it } from 'vitest';
import { runDriverContractSuite } from '../src/contract-suite.js';
import { runDriverFaultSuite } from '../src/fault-suite.js';
import { MemoryStore } from '../src/memory-store.js';

// The suites test themselves against the reference store: a suite that cannot pass here is a broken suite.
const groups = await runDriverContractSuite({
  name: 'memory',
  setup: async () => ({ driver: new MemoryStore({ backendName: 'memory-reference', fastPath: true }) }),
  createBrokenDriver: () => new MemoryStore({ failSetup: 'the store is configured to refuse setup' }),
});

describe('the contract suite on the reference store', () => {
  it('runs every group, the optional ones included (with its fast path on, the store reads into buffers and verifies checksums)', () => {
    expect(groups).toEqual(['setup', 'primitives', 'engine', 'encryption', 'fastPaths', 'checksums', 'sharedMemory']);
  });
});

// One store, as one server: the fault hooks take it offline and back.
const store = new MemoryStore({ backendName: 'memory-faults' });
runDriverFaultSuite({
  name: 'memory',
  createDriver: async () => store,
  badCredentials: {
    create: async () => new MemoryStore({ backendName: 'memory-faults', refuseCredentials: 'user nobody' }),
    message: /authentication as user nobody/,
  },
  missingContainer: {
    create: async (name) => new MemoryStore({ backendName: 'memory-faults', defaultContainer: name, createContainers: false }),
    option: 'createContainers',
  },
  serverStopped: {
    stop: async () => {
      store.offline = true;
    },
    start: async () => {
      store.offline = false;
    },
    message: /unreachable/,
    failFastMs: 1000,
  },
  unansweredRequest: { notApplicable: 'the reference store is in memory and makes no requests' },
});
