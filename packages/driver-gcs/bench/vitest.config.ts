import { defineConfig } from 'vitest/config';

// `pnpm --filter @stowage/driver-gcs bench`: the throughput measurement, on its own emulator. Not part of `test`.
export default defineConfig({
  test: {
    root: import.meta.dirname,
    globalSetup: ['../../../scripts/servers/gcs-vitest-setup.ts'],
    include: ['*.bench.test.ts'],
    testTimeout: 900_000,
    hookTimeout: 300_000,
  },
});
