/**
 * What the emulator cannot show by itself, each against real requests through the testkit's FaultProxy in front of
 * it: signed service-account tokens, a 403, one 503 in the middle of a backup, throttling, a lasting outage, the
 * checksum the upload carries, a damaged upload or download, and bucket creation with its storage class and location.
 */
import { BackupEngine, ChecksumMismatchError, DriverSetupError, StorageAuthError, StorageUnavailableError, defaultBackupPrefix, openRestoreFile, openVolumeFile } from '@stowage/core';
import { CRC32C } from '@google-cloud/storage';
import { FaultProxy, generateVolumeFile, rejectionOf, sha256File } from '@stowage/testkit';
import { createHash, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  createGcsDriver,
  drain,
  emptyBucket,
  gcsError,
  gcsTestOptions,
  gcsTestServer,
  keyedOptions,
  keysOf,
  makeServiceAccount,
  requireSignedBy,
  type TestServiceAccount,
} from './gcs-test-helpers.js';

const MiB = 1024 * 1024;
const server = gcsTestServer();

const isUpload = (request: IncomingMessage) => request.method === 'POST' && (request.url ?? '').startsWith('/upload/storage/v1/b/');
const isDownload = (request: IncomingMessage) => request.method === 'GET' && (request.url ?? '').includes('alt=media');
const isListing = (request: IncomingMessage) => request.method === 'GET' && /\/storage\/v1\/b\/[^/]+\/o\?/.test(request.url ?? '');

describe.skipIf(!server.requirement.available)('gcs through a fault proxy in front of the emulator', () => {
  const bucket = `stowage-proxy-${randomUUID().slice(0, 8)}`;
  let proxy: FaultProxy;
  let account: TestServiceAccount;
  let workDir = '';
  const data = Buffer.from('stowage through the proxy');

  beforeAll(async () => {
    proxy = await new FaultProxy(server.endpoints().endpoint).start();
    account = await makeServiceAccount('backup');
    workDir = await mkdtemp(join(tmpdir(), 'stowage-gcs-proxy-'));
  });
  afterAll(async () => {
    await emptyBucket(await createGcsDriver(gcsTestOptions(server.endpoints().endpoint, bucket)), bucket);
    await proxy?.close();
    await account?.remove();
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });
  beforeEach(() => proxy.reset());

  const viaProxy = (overrides: Record<string, unknown> = {}) => createGcsDriver(gcsTestOptions(proxy.base, bucket, { retry_backoff: 0.01, ...overrides }));

  it('sends tokens signed by the service-account key: the right key passes the proxy check end to end', async () => {
    proxy.reset(requireSignedBy(account));
    const driver = await createGcsDriver(keyedOptions(proxy, account, bucket));
    await driver.doSetup();
    await driver.putObject(bucket, 'signed/object', data, { length: data.length });
    expect((await drain(await driver.getObject(bucket, 'signed/object'))).equals(data)).toBe(true);
    expect(proxy.forwarded).toBeGreaterThanOrEqual(5);
    expect(proxy.acted).toBe(0);
  });

  it('a 403 on writes fails doSetup naming the account and the permission', async () => {
    proxy.reset((request) =>
      isUpload(request) ? gcsError(403, `${account.email} does not have storage.objects.create access to the Google Cloud Storage object.`, 'forbidden') : undefined,
    );
    const driver = await createGcsDriver(keyedOptions(proxy, account, bucket));
    const error = await rejectionOf(driver.doSetup());
    expect(DriverSetupError.isInstance(error), String(error)).toBe(true);
    expect(error.message).toContain(`service account ${account.email}`);
    expect(error.message).toMatch(/writing the probe object .* failed \(authentication or permission\)/);
    expect(error.message).toContain('storage.objects.create');
    expect(StorageAuthError.isInstance(error.cause)).toBe(true);
  });

  it('a 5xx on one chunk upload in the middle of a backup is retried and the backup succeeds', async () => {
    let uploads = 0;
    proxy.reset((request) => {
      if (!isUpload(request)) return undefined;
      uploads += 1;
      return uploads === 4 ? gcsError(503, 'Backend Error', 'backendError') : undefined;
    });
    const driver = await viaProxy();
    const engine = new BackupEngine({ driver, backendName: 'gcs-proxy', chunkSize: 2 * MiB, concurrency: 3 });
    const volumePath = join(workDir, 'volume');
    await generateVolumeFile(volumePath, { size: 24 * MiB, seed: 'gcs-5xx', mix: { random: 0.7, zero: 0, text: 0.3 } });
    const backupId = randomUUID();
    const location = { container: bucket, prefix: defaultBackupPrefix(randomUUID(), backupId) };
    const source = await openVolumeFile(volumePath);
    await engine.backup({ ...location, backupId, volumeId: 'gcs-5xx', source }).finally(() => source.close());
    expect(proxy.acted, 'the 503 was answered once').toBe(1);
    expect(uploads).toBeGreaterThan(4);
    const target = await openRestoreFile(`${volumePath}.restored`);
    await engine.restore({ ...location, target }).finally(() => target.close());
    expect(await sha256File(`${volumePath}.restored`)).toBe(await sha256File(volumePath));
  });

  it('retries a 429 on a listing with backoff', async () => {
    proxy.reset((request) => (isListing(request) && proxy.acted < 2 ? gcsError(429, 'The rate of change requests to the bucket is too high.', 'rateLimitExceeded') : undefined));
    await (await viaProxy()).checkAvailable();
    expect(proxy.acted).toBe(2);
  });

  it('gives up after retry_attempts on a lasting 503 with StorageUnavailableError naming the object', async () => {
    proxy.reset((request) => (isUpload(request) ? gcsError(503, 'Backend Error', 'backendError') : undefined));
    const error = await rejectionOf((await viaProxy()).putObject(bucket, 'lasting/503', data, { length: data.length }));
    expect(StorageUnavailableError.isInstance(error), String(error)).toBe(true);
    expect(error.message).toContain(`${bucket}/lasting/503`);
    expect(error.message).toContain('HTTP 503');
    expect((error as StorageUnavailableError).object).toBe('lasting/503');
    expect(proxy.acted).toBe(3);
  });

  it.each(['md5', 'crc32c'] as const)('every upload carries its %s for the service to verify, in one request', async (checksum) => {
    const bodies: Buffer[] = [];
    const urls: string[] = [];
    proxy.reset((request) => {
      if (!isUpload(request)) return undefined;
      urls.push(request.url ?? '');
      // Answer as GCS does once it has verified the hash: the stored object's resource.
      return {
        respond: (_request, response, body) => {
          bodies.push(body);
          const metadata = JSON.parse(/\{.*?\}\r\n/s.exec(body.toString('latin1'))?.[0] ?? '{}') as Record<string, string>;
          response.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ bucket, name: 'x', size: String(data.length), ...metadata }));
        },
      };
    });
    await (await viaProxy({ checksum })).putObject(bucket, 'checksum/object', data, { length: data.length });
    const crc = new CRC32C();
    crc.update(data);
    const expected = checksum === 'md5' ? { md5Hash: createHash('md5').update(data).digest('base64') } : { crc32c: crc.toString() };
    expect(urls).toEqual([expect.stringContaining('uploadType=multipart')]);
    const [field, value] = Object.entries(expected)[0]!;
    expect(bodies[0]!.toString('latin1')).toContain(`"${field}":"${value}"`);
  });

  it('refuses an upload whose stored hash differs from the one sent', async () => {
    proxy.reset((request) =>
      isUpload(request)
        ? {
            rewrite: (answer) => {
              const resource = JSON.parse(answer.body.toString('utf8')) as Record<string, unknown>;
              return { ...answer, body: Buffer.from(JSON.stringify({ ...resource, md5Hash: 'AAAAAAAAAAAAAAAAAAAAAA==' })) };
            },
          }
        : undefined,
    );
    const error = await rejectionOf((await viaProxy()).putObject(bucket, 'damaged/upload', data, { length: data.length }));
    expect(ChecksumMismatchError.isInstance(error), String(error)).toBe(true);
    expect(error.message).toContain('damaged/upload');
  });

  it('maps GCS refusing a damaged upload (400, hash mismatch) to ChecksumMismatchError', async () => {
    proxy.reset((request) => (isUpload(request) ? gcsError(400, 'Provided MD5 hash "x" doesn\'t match calculated MD5 hash "y".', 'invalid') : undefined));
    const error = await rejectionOf((await viaProxy()).putObject(bucket, 'damaged/400', data, { length: data.length }));
    expect(ChecksumMismatchError.isInstance(error), String(error)).toBe(true);
    expect(proxy.acted, 'not retried').toBe(1);
  });

  it('checks downloads against the CRC32C GCS sends: a wrong one is ChecksumMismatchError, the right one passes', async () => {
    const driver = await viaProxy();
    await driver.putObject(bucket, 'download/object', data, { length: data.length });
    const withHash = (crc32c: string) => (request: IncomingMessage) =>
      isDownload(request)
        ? { rewrite: (answer: { status: number; headers: Record<string, unknown>; body: Buffer }) => ({ ...answer, headers: { ...answer.headers, 'x-goog-hash': `crc32c=${crc32c}`, 'x-goog-stored-content-encoding': 'identity' } }) }
        : undefined;
    const crc = new CRC32C();
    crc.update(data);
    proxy.reset(withHash(crc.toString()));
    expect((await drain(await driver.getObject(bucket, 'download/object'))).equals(data)).toBe(true);
    proxy.reset(withHash('AAAAAA=='));
    // A small object's mismatch may already surface with its first part, inside getObject.
    const error = await rejectionOf((async () => drain(await driver.getObject(bucket, 'download/object')))());
    expect(ChecksumMismatchError.isInstance(error), String(error)).toBe(true);
    expect(error.message).toContain(`${bucket}/download/object`);
  });

  it('abandons a download that stalls mid-body within timeout, as StorageUnavailableError naming the object', async () => {
    proxy.reset((request) =>
      isDownload(request)
        ? {
            respond: (_request, response) => {
              response.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': '1000' });
              response.write(Buffer.alloc(10));
            },
          }
        : undefined,
    );
    const body = await (await viaProxy({ timeout: 0.3 })).getObject(bucket, 'stalled/object');
    const error = await rejectionOf(drain(body));
    expect(StorageUnavailableError.isInstance(error), String(error)).toBe(true);
    expect(error.message).toMatch(/stalled for 0.3 s/);
    expect(error.message).toContain(`${bucket}/stalled/object`);
  });

  it('creates a missing bucket with the configured storage class and location when create_bucket is on', async () => {
    const created = `stowage-new-${randomUUID().slice(0, 8)}`;
    const requests: Array<{ url: string; body: Record<string, unknown> }> = [];
    let exists = false;
    proxy.reset((request) => {
      if (request.method === 'POST' && (request.url ?? '').startsWith('/storage/v1/b?')) {
        // The emulator has no bucket calls (501): answer as GCS does.
        return {
          respond: (_request, response, body) => {
            requests.push({ url: request.url ?? '', body: JSON.parse(body.toString('utf8')) as Record<string, unknown> });
            exists = true;
            response.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ kind: 'storage#bucket', name: created }));
          },
        };
      }
      return !exists && isListing(request) && (request.url ?? '').includes(`/b/${created}/o`) ? gcsError(404, 'The specified bucket does not exist.', 'notFound') : undefined;
    });
    const driver = await viaProxy({ bucket: created, create_bucket: true, storage_class: 'NEARLINE', location: 'EU' });
    await driver.doSetup();
    expect(requests).toHaveLength(1);
    expect(requests[0]!.url).toContain('project=stowage-test');
    expect(requests[0]!.body).toMatchObject({ name: created, storageClass: 'NEARLINE', location: 'EU' });
    expect(await keysOf(driver.listObjects(created, ''))).toEqual([]);
  });
});
