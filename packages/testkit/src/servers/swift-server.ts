import { testServer, type TestServer } from '../test-server.js';

/** The Swift cluster (with s3api) that `scripts/servers/swift.sh` starts; written by it to `endpoints.json`. */
export interface SwiftEndpoints {
  readonly state: string;
  readonly script: string;
  readonly proxyUrl: string;
  readonly authUrl: string;
  readonly storageUrl: string;
  readonly user: string;
  readonly key: string;
  readonly s3: { readonly endpoint: string; readonly region: string; readonly accessKeyId: string; readonly secretAccessKey: string };
  readonly ports: Readonly<Record<'memcached' | 'account' | 'container' | 'object' | 'proxy', number>>;
}

/** The cluster provided as `swiftServer` by `scripts/servers/swift-vitest-setup.ts`. */
export function swiftTestServer(): TestServer<SwiftEndpoints> {
  return testServer<SwiftEndpoints>('swiftServer', 'the Swift test cluster');
}
