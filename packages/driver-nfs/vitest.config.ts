import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Starts nfs-ganesha (and rpcbind, if none runs) once for the whole run and stops them afterwards (scripts/servers/nfs.sh).
    globalSetup: ['../../scripts/servers/nfs-vitest-setup.ts'],
    // Fault tests stop and start ganesha: no other test file may run against it meanwhile.
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 300_000,
  },
});
