/** The Swift test cluster (its s3api serves S3) started by the shared globalSetup, and helpers for the tests. */
import { serverRequirement, type ServerRequirement } from '@stowage/testkit';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { inject } from 'vitest';
import { DeleteBucketCommand } from '@aws-sdk/client-s3';
import type { S3Store } from '../src/index.js';

const run = promisify(execFile);

export interface SwiftEndpoints {
  readonly state: string;
  readonly script: string;
  readonly proxyUrl: string;
  readonly authUrl: string;
  readonly storageUrl: string;
  readonly user: string;
  readonly key: string;
  readonly s3: { readonly endpoint: string; readonly region: string; readonly accessKeyId: string; readonly secretAccessKey: string };
}

type SwiftServerState =
  | { readonly available: true; readonly endpoints: SwiftEndpoints; readonly startCommand: string }
  | { readonly available: false; readonly reason: string; readonly startCommand: string };

declare module 'vitest' {
  export interface ProvidedContext {
    swiftServer: SwiftServerState;
  }
}

export interface SwiftTestServer {
  readonly requirement: ServerRequirement;
  /** Throws when the server is not available (only called from tests that are not skipped). */
  endpoints(): SwiftEndpoints;
}

export function swiftTestServer(): SwiftTestServer {
  const state = inject('swiftServer');
  const requirement = serverRequirement(
    'the Swift test cluster',
    state.available,
    state.startCommand,
    state.available ? '' : state.reason,
  );
  return {
    requirement,
    endpoints() {
      if (!state.available) throw new Error(requirement.reason);
      return state.endpoints;
    },
  };
}

/** Stop or start one server of the cluster (memcached, account, container, object, proxy) by PID. */
export async function controlServer(endpoints: SwiftEndpoints, action: 'stop-server' | 'start-server', name: string): Promise<void> {
  await run('bash', [endpoints.script, action, endpoints.state, name], { timeout: 60_000 });
}

/** Driver options for the cluster's s3api, with test-friendly retries and timeouts. */
export function s3TestOptions(endpoints: SwiftEndpoints, bucket: string): Record<string, unknown> {
  return {
    endpoint: endpoints.s3.endpoint,
    region: endpoints.s3.region,
    force_path_style: true,
    access_key: endpoints.s3.accessKeyId,
    secret_key: endpoints.s3.secretAccessKey,
    bucket,
    retry_max_attempts: 3,
    timeout: 30,
    connect_timeout: 5,
  };
}

/** Empty a bucket with the driver's DeleteObjects (the Content-MD5 path) and delete it. */
export async function deleteBucket(store: S3Store, bucket: string): Promise<void> {
  const keys: string[] = [];
  for await (const key of store.listObjects(bucket, '')) keys.push(key);
  await store.deleteObjects(bucket, keys);
  await store.client.send(new DeleteBucketCommand({ Bucket: bucket })).catch((error: unknown) => {
    if ((error as Error).name !== 'NoSuchBucket') throw error;
  });
}
