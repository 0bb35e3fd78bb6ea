import type { StorageDriver } from '@stowage/core';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe } from 'vitest';
import { checksumGroup } from './suite/checksum-group.js';
import { encryptionGroup } from './suite/encryption-group.js';
import { engineGroup } from './suite/engine-group.js';
import { fastPathsGroup } from './suite/fast-paths-group.js';
import { MiB } from './suite/helpers.js';
import { primitivesGroup } from './suite/primitives-group.js';
import { setupGroup } from './suite/setup-group.js';
import { sharedMemoryGroup } from './suite/shared-memory-group.js';
import type { SuiteContext } from './suite/suite-context.js';

export interface DriverFixture {
  /** A driver whose default container is fresh and empty (or at least holds nothing under the suite's prefixes). */
  readonly driver: StorageDriver;
  readonly cleanup?: () => Promise<void>;
}

/**
 * The suite's groups. `setup`, `primitives`, `engine` and `encryption` apply to every driver; `fastPaths` to drivers
 * that implement `readObjectInto`, `checksums` to drivers that declare `verifiesPutChecksum`, `sharedMemory` to
 * drivers that declare `acceptsSharedMemory`.
 */
export type ContractGroup = 'setup' | 'primitives' | 'engine' | 'encryption' | 'fastPaths' | 'checksums' | 'sharedMemory';

export interface ContractSuiteOptions {
  /** Shown in test names, e.g. `posix`. */
  readonly name: string;
  /** Called once, when the suite is defined; `doSetup` has not been called yet. */
  readonly setup: () => Promise<DriverFixture>;
  /** A driver whose `doSetup` must fail (unreachable server, unusable path, bad credentials). */
  readonly createBrokenDriver: () => StorageDriver | Promise<StorageDriver>;
  /** Per-test timeout (default 60 s; network drivers may need more). */
  readonly timeoutMs?: number;
  /** Size of the volumes the engine round trips use (default 24 MiB). */
  readonly volumeSize?: number;
  /**
   * Leave groups out (`{ engine: false }`) while developing a driver. A group the driver's capabilities call for
   * cannot be forced on, nor one they rule out: the capabilities decide.
   */
  readonly groups?: Partial<Record<ContractGroup, false>>;
}

/** Which groups a driver's declared capabilities and implemented optional calls call for. */
export function contractGroupsFor(driver: StorageDriver): ContractGroup[] {
  const groups: ContractGroup[] = ['setup', 'primitives', 'engine', 'encryption'];
  if (typeof driver.readObjectInto === 'function') groups.push('fastPaths');
  if (driver.capabilities.verifiesPutChecksum) groups.push('checksums');
  if (driver.capabilities.acceptsSharedMemory === true) groups.push('sharedMemory');
  return groups;
}

const GROUPS: Record<ContractGroup, (ctx: SuiteContext) => void> = {
  setup: setupGroup,
  primitives: primitivesGroup,
  engine: engineGroup,
  encryption: encryptionGroup,
  fastPaths: fastPathsGroup,
  checksums: checksumGroup,
  sharedMemory: sharedMemoryGroup,
};

/**
 * The contract every Stowage driver satisfies, run against its real server: the groups its capabilities call for.
 * A driver package awaits it at the top of `test/contract.test.ts` (the driver is created while the suite is
 * defined, so that its capabilities can choose the groups):
 *
 *     await runDriverContractSuite({ name: 'foo', setup: ..., createBrokenDriver: ... });
 */
export async function runDriverContractSuite(options: ContractSuiteOptions): Promise<ContractGroup[]> {
  const timeout = options.timeoutMs ?? 60_000;
  const fixture = await options.setup();
  let workDir = '';
  const ctx: SuiteContext = {
    name: options.name,
    driver: () => fixture.driver,
    container: () => fixture.driver.defaultContainer,
    unique: (label) => `contract-${label}-${randomUUID()}/`,
    workDir: () => {
      if (!workDir) throw new Error(`contract suite ${options.name}: the work folder is made in beforeAll`);
      return workDir;
    },
    volumeSize: options.volumeSize ?? 24 * MiB,
    createBrokenDriver: options.createBrokenDriver,
  };
  const groups = contractGroupsFor(fixture.driver).filter((group) => options.groups?.[group] !== false);

  describe(`driver contract: ${options.name}`, { timeout }, () => {
    beforeAll(async () => {
      workDir = await mkdtemp(join(tmpdir(), `stowage-contract-${options.name}-`));
    }, timeout);

    afterAll(async () => {
      await fixture.driver.close?.();
      await fixture.cleanup?.();
      if (workDir) await rm(workDir, { recursive: true, force: true });
    }, timeout);

    for (const group of groups) GROUPS[group](ctx);
  });
  return groups;
}
