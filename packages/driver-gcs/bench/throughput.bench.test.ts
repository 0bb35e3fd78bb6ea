/**
 * Throughput of a 256 MiB volume through the engine on the GCS driver (backup, restore, byte-identical) next to raw
 * transfers of the same bytes to the same emulator in the same run: the library's single-request uploads and
 * downloads without the driver (no checksums, no retries), and bare fetch requests without the library. Prints the
 * numbers with the machine's load; asserts nothing about time.
 */
import { DEFAULT_CHUNK_SIZE } from '@stowage/core';
import { measureDriverThroughput } from '@stowage/testkit';
import { randomUUID } from 'node:crypto';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import plugin, { type GcsStore } from '../src/index.js';
import { emptyBucket, gcsTestOptions, gcsTestServer } from '../test/gcs-test-helpers.js';

const MiB = 1024 * 1024;
const VOLUME = 256 * MiB;
const server = gcsTestServer();

describe.skipIf(!server.requirement.available)('gcs throughput', () => {
  const bucket = `stowage-bench-${randomUUID().slice(0, 8)}`;
  let workDir = '';
  let store: GcsStore | undefined;

  afterAll(async () => {
    if (store !== undefined) await emptyBucket(store, bucket);
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  it('reports engine backup/restore of 256 MiB next to raw uploads and downloads of the same bytes', async () => {
    workDir = await mkdtemp(join(tmpdir(), 'stowage-gcs-bench-'));
    const { endpoint } = server.endpoints();
    const result = await plugin.optionsSchema['~standard'].validate(gcsTestOptions(endpoint, bucket));
    if (result.issues) throw new Error(JSON.stringify(result.issues));
    const driver = plugin.create(result.value, { backendName: 'gcs-bench', statePath: workDir }) as GcsStore;
    store = driver;
    await driver.doSetup();
    const load = () => loadavg().map((value) => value.toFixed(2)).join(' ');
    const loadBefore = load();
    const key = (index: number) => `raw/${String(index).padStart(6, '0')}`;
    const report = await measureDriverThroughput({
      driver,
      container: bucket,
      workDir,
      volumeSize: VOLUME,
      seed: 'gcs-throughput',
      rawPut: async (index, data) => {
        await driver.storage.bucket(bucket).file(key(index)).save(data, { resumable: false, validation: false });
      },
      rawGet: async (index) => (await driver.storage.bucket(bucket).file(key(index)).download({ validation: false }))[0].length,
    });

    // The same chunks once more with bare fetch (uploadType=media, alt=media): what the library itself costs.
    const chunks = Math.ceil(VOLUME / DEFAULT_CHUNK_SIZE);
    const volume = join(workDir, 'fetch-volume');
    const handle = await open(volume, 'w+');
    await handle.write(Buffer.alloc(DEFAULT_CHUNK_SIZE, 7), 0, DEFAULT_CHUNK_SIZE, VOLUME - DEFAULT_CHUNK_SIZE);
    const inParallel = async (run: (index: number) => Promise<void>) => {
      let next = 0;
      await Promise.all(Array.from({ length: report.concurrency }, async () => {
        while (next < chunks) await run(next++);
      }));
    };
    const name = (index: number) => encodeURIComponent(`fetch/${String(index).padStart(6, '0')}`);
    let started = performance.now();
    await inParallel(async (index) => {
      const data = Buffer.allocUnsafe(DEFAULT_CHUNK_SIZE);
      await handle.read(data, 0, data.length, index * DEFAULT_CHUNK_SIZE);
      const response = await fetch(`${endpoint}/upload/storage/v1/b/${bucket}/o?uploadType=media&name=${name(index)}`, { method: 'POST', body: data, headers: { 'Content-Type': 'application/octet-stream' } });
      await response.arrayBuffer();
      if (!response.ok) throw new Error(`fetch upload ${index}: HTTP ${response.status}`);
    }).finally(() => handle.close());
    const fetchPut = (performance.now() - started) / 1000;
    let fetched = 0;
    started = performance.now();
    await inParallel(async (index) => {
      const response = await fetch(`${endpoint}/storage/v1/b/${bucket}/o/${name(index)}?alt=media`);
      const length = (await response.arrayBuffer()).byteLength;
      fetched += length;
    });
    const fetchGet = (performance.now() - started) / 1000;
    const rate = (seconds: number) => `${(VOLUME / MiB / seconds).toFixed(0)} MiB/s (${seconds.toFixed(2)} s)`;
    console.log(
      [
        report.summary.replace('raw PUT loop', 'raw library PUT').replace('raw GET loop', 'raw library GET'),
        `  raw fetch PUT   ${rate(fetchPut)}`,
        `  raw fetch GET   ${rate(fetchGet)}`,
        `  load average before ${loadBefore}, after ${load()} (${process.env.CI === 'true' ? 'CI' : 'local'}, 2 cores)`,
      ].join('\n'),
    );
    expect(report.restoredIdentical).toBe(true);
    expect(report.rawBytesRead).toBe(VOLUME);
    expect(fetched).toBe(VOLUME);
  });
});
