import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // The same throwaway Swift cluster (with s3api) the drivers' own tests use, started and stopped by PID.
    globalSetup: ['../../scripts/servers/swift-vitest-setup.ts'],
    fileParallelism: false,
    testTimeout: 300_000,
    hookTimeout: 300_000,
  },
});
