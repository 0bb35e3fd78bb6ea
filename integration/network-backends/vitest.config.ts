import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // The same throwaway servers the drivers' own tests use (Swift with s3api; sshd; nfs-ganesha; the GCS emulator), started and stopped by PID.
    globalSetup: ['../../scripts/servers/swift-vitest-setup.ts', '../../scripts/servers/sshd-vitest-setup.ts', '../../scripts/servers/nfs-vitest-setup.ts', '../../scripts/servers/gcs-vitest-setup.ts'],
    fileParallelism: false,
    testTimeout: 300_000,
    hookTimeout: 300_000,
  },
});
