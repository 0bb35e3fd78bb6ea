import { performance } from 'node:perf_hooks';
import type { ChildRequest, PhaseTimes } from './protocol.js';

type EachChunk = (path: string, chunkSize: number, concurrency: number, task: (chunk: Buffer, index: number) => Promise<void>) => Promise<void>;

/** The plainest Swift upload: tempauth, then one PUT per chunk, the same number in flight as the engine. */
export async function rawSwift(
  request: Extract<ChildRequest, { op: 'raw-swift' }>,
  eachChunk: EachChunk,
  phases: PhaseTimes,
): Promise<Record<string, unknown>> {
  const auth = await fetch(request.authUrl, { headers: { 'X-Auth-User': request.user, 'X-Auth-Key': request.key } });
  const token = auth.headers.get('x-auth-token');
  const storage = auth.headers.get('x-storage-url');
  if (!auth.ok || token === null || storage === null) throw new Error(`raw-swift: tempauth at ${request.authUrl} answered ${auth.status}`);
  const headers = { 'X-Auth-Token': token };
  const container = `${storage}/${encodeURIComponent(request.container)}`;
  const created = await fetch(container, { method: 'PUT', headers });
  if (!created.ok) throw new Error(`raw-swift: creating container ${request.container} answered ${created.status}`);
  let objects = 0;
  await eachChunk(request.volumePath, request.chunkSize, request.concurrency, async (chunk, index) => {
    const started = performance.now();
    const response = await fetch(`${container}/raw-${index}`, { method: 'PUT', headers, body: chunk });
    await response.arrayBuffer();
    if (response.status !== 201) throw new Error(`raw-swift: PUT raw-${index} answered ${response.status}`);
    phases.put_s += (performance.now() - started) / 1000;
    phases.put_calls += 1;
    objects += 1;
  });
  return { objects };
}

interface S3Sdk {
  S3Client: new (config: Record<string, unknown>) => { send(command: unknown): Promise<unknown>; destroy(): void };
  PutObjectCommand: new (input: Record<string, unknown>) => unknown;
  CreateBucketCommand: new (input: Record<string, unknown>) => unknown;
}

/** Same bytes through the AWS SDK's PutObject: what the s3 driver adds on top of its SDK shows up against this. */
export async function rawS3(
  request: Extract<ChildRequest, { op: 'raw-s3-sdk' }>,
  eachChunk: EachChunk,
  phases: PhaseTimes,
): Promise<Record<string, unknown>> {
  const sdk = (await import(request.sdkModule)) as S3Sdk;
  const client = new sdk.S3Client({
    endpoint: request.endpoint,
    region: request.region,
    forcePathStyle: true,
    credentials: { accessKeyId: request.accessKeyId, secretAccessKey: request.secretAccessKey },
  });
  try {
    await client.send(new sdk.CreateBucketCommand({ Bucket: request.bucket })).catch((error: unknown) => {
      const name = (error as { name?: string }).name;
      if (name !== 'BucketAlreadyOwnedByYou' && name !== 'BucketAlreadyExists') throw error;
    });
    let objects = 0;
    await eachChunk(request.volumePath, request.chunkSize, request.concurrency, async (chunk, index) => {
      const started = performance.now();
      await client.send(new sdk.PutObjectCommand({ Bucket: request.bucket, Key: `raw-${index}`, Body: chunk, ContentLength: chunk.length }));
      phases.put_s += (performance.now() - started) / 1000;
      phases.put_calls += 1;
      objects += 1;
    });
    return { objects };
  } finally {
    client.destroy();
  }
}
