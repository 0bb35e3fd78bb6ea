import { join } from 'node:path';
import { posixDriverSpec } from '../tools/stowage-tool.js';
import type { DriverTarget } from './driver-target.js';

/** The posix driver against plain `write` + `fsync` of one file per chunk in the same folder. */
export const posixTarget: DriverTarget = {
  name: 'posix',
  async unavailable() {
    try {
      import.meta.resolve('@stowage/driver-posix');
      return undefined;
    } catch {
      return '@stowage/driver-posix is not installed (pnpm install)';
    }
  },
  async start(directory) {
    const repository = join(directory, 'repository');
    return {
      driver: posixDriverSpec(repository),
      rawLabel: 'fs write + fsync per chunk file',
      rawTransfer: async (volumePath, chunkSize, concurrency, round) => ({
        op: 'raw-files',
        volumePath,
        directory: join(directory, `raw-${round}`),
        chunkSize,
        concurrency,
      }),
      container: (round) => `bench-${round}`,
      stop: async () => undefined,
    };
  },
};
