import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['bench/**/*.bench.test.ts'],
    globalSetup: ['../../scripts/servers/sshd-vitest-setup.ts'],
    testTimeout: 900_000,
    hookTimeout: 300_000,
  },
});
