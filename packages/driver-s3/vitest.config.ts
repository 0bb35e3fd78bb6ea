import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Starts the Swift cluster once for the whole run and stops it afterwards (scripts/servers/swift.sh).
    globalSetup: ['../../scripts/servers/swift-vitest-setup.ts'],
    // Fault tests stop and start the proxy: no other test file may run against it meanwhile.
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 300_000,
    // The SDK's notice that releases after Jan 2027 need Node 22 (why it is pinned; see README) is noise in test logs.
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
  },
});
