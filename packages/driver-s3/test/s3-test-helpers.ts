/** S3-specific helpers for the tests; the cluster (whose s3api serves S3) comes from the testkit's `swiftTestServer()`. */
import { DeleteBucketCommand } from '@aws-sdk/client-s3';
import type { SwiftEndpoints } from '@stowage/testkit';
import type { S3Store } from '../src/index.js';

export { swiftTestServer, type SwiftEndpoints } from '@stowage/testkit';

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
