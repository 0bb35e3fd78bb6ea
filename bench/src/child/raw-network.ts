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

interface GcsFile {
  save(data: Buffer, options: Record<string, unknown>): Promise<void>;
}
interface GcsLibrary {
  Storage: new (options: Record<string, unknown>) => {
    createBucket(name: string): Promise<unknown>;
    bucket(name: string): { file(name: string): GcsFile; getFiles(query: Record<string, unknown>): Promise<unknown> };
  };
}

/** Same bytes through the library the gcs driver wraps, as the driver calls it but without checksums or retries. */
export async function rawGcs(
  request: Extract<ChildRequest, { op: 'raw-gcs-library' }>,
  eachChunk: EachChunk,
  phases: PhaseTimes,
): Promise<Record<string, unknown>> {
  const loaded = (await import(request.storageModule)) as Partial<GcsLibrary> & { default?: GcsLibrary };
  const Storage = loaded.Storage ?? loaded.default?.Storage;
  if (Storage === undefined) throw new Error(`raw-gcs: ${request.storageModule} exports no Storage class`);
  // An emulator: no credentials (as the driver's `anonymous`), no library retries (the driver has its own).
  const storage = new Storage({
    apiEndpoint: request.endpoint,
    projectId: request.projectId,
    useAuthWithCustomEndpoint: false,
    retryOptions: { autoRetry: false, maxRetries: 0 },
  });
  const bucket = storage.bucket(request.bucket);
  // As the driver does it: a bucket that lists is there (the emulator lists any name and cannot create buckets).
  await bucket.getFiles({ maxResults: 1, autoPaginate: false }).catch(async (error: unknown) => {
    if ((error as { code?: unknown }).code !== 404) throw error;
    await storage.createBucket(request.bucket);
  });
  let objects = 0;
  await eachChunk(request.volumePath, request.chunkSize, request.concurrency, async (chunk, index) => {
    const started = performance.now();
    await bucket.file(`raw-${index}`).save(chunk, { resumable: false, validation: false });
    phases.put_s += (performance.now() - started) / 1000;
    phases.put_calls += 1;
    objects += 1;
  });
  return { objects };
}
