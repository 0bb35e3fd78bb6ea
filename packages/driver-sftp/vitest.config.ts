import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // bench/ holds the throughput measurement (pnpm bench), not tests.
    exclude: ['bench/**', 'node_modules/**', 'dist/**'],
    // Starts one throwaway sshd for the whole run and stops it afterwards (scripts/servers/sshd.sh).
    globalSetup: ['../../scripts/servers/sshd-vitest-setup.ts'],
    // Fault tests stop and start sshd: no other test file may run against it meanwhile.
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 300_000,
  },
});
