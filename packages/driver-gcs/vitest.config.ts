import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Starts the GCS emulator once for the whole run and stops it afterwards (scripts/servers/gcs-emulator.mjs).
    globalSetup: ['../../scripts/servers/gcs-vitest-setup.ts'],
    include: ['test/**/*.test.ts'],
    // Fault tests stop and start the emulator: no other test file may run against it meanwhile.
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 300_000,
  },
});
