/**
 * Sparse volumes and the segmented digest table (format v2): cost follows the data, not the volume; v1 backups
 * stay readable; damaged digest segments are refused.
 */
import {
  BACKUP_FORMAT_V1,
  BackupEngine,
  ChecksumMismatchError,
  METADATA_OBJECT,
  SHA256_OBJECT,
  SHA256_OBJECT_MAGIC,
  dataExtents,
  openRestoreFile,
  openVolumeFile,
  serializeSha256Object,
  sparseReadsAvailable,
  type VolumeSource,
} from '@stowage/core';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, open, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { MemoryStore } from '../src/memory-store.js';
import { sameSparseContent, sha256File } from '../src/volume-files.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
/** The engine's digest segment: 4 GiB of volume (131072 blocks of 32 KiB). */
const SEGMENT = 4 * GiB;
const BLOCK = 32 * 1024;
const dir = await mkdtemp(join(tmpdir(), 'stowage-sparse-'));
afterAll(() => rm(dir, { recursive: true, force: true }));
const at = (name: string) => ({ container: 'backups', prefix: `volume_v/backup_${name}/` });

/** A sparse file of `size` bytes with random data written at each `[offset, length]`. */
async function sparseFile(name: string, size: number, runs: Array<[number, number]>): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, '');
  await truncate(path, size);
  const handle = await open(path, 'r+');
  for (const [offset, length] of runs) await handle.write(randomBytes(length), 0, length, offset);
  // Allocated on disk (extent blocks included), so its st_blocks compare with a restored, fsynced file's.
  await handle.sync();
  await handle.close();
  return path;
}

/** The volume, counting the bytes the engine asked for. */
async function countingSource(path: string): Promise<{ source: VolumeSource; bytesRead: () => number }> {
  const inner = await openVolumeFile(path);
  let bytes = 0;
  const source: VolumeSource = {
    size: inner.size,
    read: async (target, position) => {
      bytes += target.length;
      return inner.read(target, position);
    },
    dataExtents: async (offset, length) => inner.dataExtents?.(offset, length),
    close: () => inner.close(),
  };
  return { source, bytesRead: () => bytes };
}

async function backup(engine: BackupEngine, path: string, name: string, parent?: string) {
  const { source, bytesRead } = await countingSource(path);
  try {
    const result = await engine.backup({ ...at(name), backupId: name, volumeId: 'v', source, parent: parent ? at(parent) : undefined });
    return { ...result, bytesRead: bytesRead() };
  } finally {
    await source.close();
  }
}

async function restore(engine: BackupEngine, name: string): Promise<{ path: string; allocated: number }> {
  const path = join(dir, `${name}-restored`);
  const target = await openRestoreFile(path);
  await engine.restore({ ...at(name), target }).finally(() => target.close());
  return { path, allocated: (await stat(path)).blocks * 512 };
}

/** Byte-identical, without hashing gigabytes of holes. */
async function expectSameContent(actual: string, expected: string): Promise<void> {
  expect(await sameSparseContent(actual, expected), `${actual} has the bytes of ${expected}`).toBe(true);
}

async function objectBytes(driver: MemoryStore, key: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of await driver.getObject('backups', key)) parts.push(Buffer.from(part));
  return Buffer.concat(parts);
}

describe('sparse volumes', { timeout: 120_000 }, () => {
  it('this machine can ask the filesystem for extents (koffi loads lseek)', async () => {
    // Linux is where Stowage runs; without the binding every test below would pass by reading everything.
    expect(sparseReadsAvailable()).toBe(true);
    const path = await sparseFile('extents', 64 * MiB, [[8 * MiB, MiB], [40 * MiB, 2 * MiB]]);
    const handle = await open(path, 'r');
    try {
      expect(dataExtents(handle.fd, 0, 64 * MiB)).toEqual([[8 * MiB, 9 * MiB], [40 * MiB, 42 * MiB]]);
      expect(dataExtents(handle.fd, 8 * MiB + 4096, 16 * MiB)).toEqual([[8 * MiB + 4096, 9 * MiB]]);
      expect(dataExtents(handle.fd, 50 * MiB, 14 * MiB)).toEqual([]);
    } finally {
      await handle.close();
    }
  });

  it('backs up a 12 GiB sparse volume reading only its data; digest segments exist only where data is', async () => {
    const engine = new BackupEngine({ driver: new MemoryStore(), backendName: 'mem' });
    // Data in segments 0 and 2; segment 1 and the odd-sized tail segment 3 are holes.
    const size = 3 * SEGMENT + 12_345;
    const path = await sparseFile('three', size, [[0, MiB], [2 * SEGMENT + 512 * MiB + 100, 3 * MiB]]);
    const result = await backup(engine, path, 'three');
    expect(result.bytesRead).toBeLessThanOrEqual(2 * 8 * MiB);
    // The second run starts 100 bytes into a block, so it touches one block more than its 3 MiB.
    expect(result.changedBytes).toBe(MiB + 3 * MiB + BLOCK);
    expect(result.metadata.format).toBe('stowage.backup/v2');
    expect(result.metadata.digestSegments?.segments.map((segment) => segment.index)).toEqual([0, 2]);
    const restored = await restore(engine, 'three');
    await expectSameContent(restored.path, path);
    // Holes stay holes: the restored file allocates its data (in whole blocks), not its size.
    expect(restored.allocated).toBeLessThanOrEqual(8 * MiB);
  });

  it('an incremental treats holes as zero: a punched range is a change, a hole that stayed one costs nothing', async () => {
    const driver = new MemoryStore();
    const engine = new BackupEngine({ driver, backendName: 'mem', chunkSize: MiB });
    const path = await sparseFile('punch', 2 * GiB, [[0, 2 * MiB], [GiB, 4 * MiB]]);
    await backup(engine, path, 'punch-full');
    const unchanged = await backup(engine, path, 'punch-same', 'punch-full');
    expect(unchanged.objectCount).toBe(0);
    expect(unchanged.changedBytes).toBe(0);
    expect(unchanged.metadata.zeroRuns).toEqual([]);
    expect(unchanged.bytesRead).toBeLessThanOrEqual(6 * MiB);

    // Punch 1 MiB out of the second run (now a hole) and write new data elsewhere.
    await promisify(execFile)('fallocate', ['--punch-hole', '--offset', String(GiB + MiB), '--length', String(MiB), path]);
    const handle = await open(path, 'r+');
    await handle.write(randomBytes(BLOCK), 0, BLOCK, 1536 * MiB);
    await handle.close();
    const changed = await backup(engine, path, 'punch-incr', 'punch-same');
    expect(changed.changedBytes).toBe(BLOCK);
    expect(changed.metadata.zeroRuns).toEqual([[(GiB + MiB) / BLOCK, MiB / BLOCK]]);
    await expectSameContent((await restore(engine, 'punch-incr')).path, path);
  });

  it('restores v1 backups (one sha256 object for the whole volume) and takes v2 incrementals of them', async () => {
    const driver = new MemoryStore();
    const engine = new BackupEngine({ driver, backendName: 'mem', chunkSize: MiB });
    const path = await sparseFile('legacy', 8 * MiB + 1000, [[0, 3 * MiB], [6 * MiB, MiB]]);
    const v2 = await backup(engine, path, 'legacy');
    // Rewrite it as a v1 writer would have: the whole digest table in `sha256`, no segments.
    const content = await readFile(path);
    const digests = Buffer.concat(
      Array.from({ length: Math.ceil(content.length / BLOCK) }, (_, i) => createHash('sha256').update(content.subarray(i * BLOCK, (i + 1) * BLOCK)).digest()),
    );
    const table = serializeSha256Object(
      { format: SHA256_OBJECT_MAGIC, backupId: 'legacy', volumeSize: content.length, blockSize: BLOCK, blocks: digests.length / 32 },
      digests,
    );
    const { prefix } = at('legacy');
    for (const segment of v2.metadata.digestSegments!.segments) await driver.deleteObject('backups', prefix + segment.name);
    await driver.putObject('backups', prefix + SHA256_OBJECT, table, { length: table.length });
    const { digestSegments: _segments, ...rest } = v2.metadata;
    const v1 = { ...rest, format: BACKUP_FORMAT_V1, sha256Object: { name: SHA256_OBJECT, length: table.length, sha256: createHash('sha256').update(table).digest('hex') } };
    const metadataBytes = Buffer.from(JSON.stringify(v1));
    await driver.putObject('backups', prefix + METADATA_OBJECT, metadataBytes, { length: metadataBytes.length });

    expect(await sha256File((await restore(engine, 'legacy')).path)).toBe(await sha256File(path));
    const handle = await open(path, 'r+');
    await handle.write(randomBytes(BLOCK), 0, BLOCK, 4 * MiB);
    await handle.close();
    const child = await backup(engine, path, 'legacy-child', 'legacy');
    expect(child.changedBytes).toBe(BLOCK);
    expect(await sha256File((await restore(engine, 'legacy-child')).path)).toBe(await sha256File(path));
  });

  it('refuses a restore whose digest segment is damaged, missing or of another backup, naming the object', async () => {
    const driver = new MemoryStore();
    const engine = new BackupEngine({ driver, backendName: 'mem', chunkSize: MiB });
    const path = await sparseFile('damaged', 4 * MiB, [[0, 4 * MiB]]);
    const result = await backup(engine, path, 'damaged');
    const segment = result.metadata.digestSegments!.segments[0]!;
    const key = at('damaged').prefix + segment.name;
    const original = await objectBytes(driver, key);
    const flipped = Buffer.from(original);
    flipped[flipped.length - 1]! ^= 1;
    await driver.putObject('backups', key, flipped, { length: flipped.length });
    const damaged = await restore(engine, 'damaged').catch((error: unknown) => error);
    expect(ChecksumMismatchError.isInstance(damaged)).toBe(true);
    expect((damaged as Error).message).toContain(`backups/${key} on backend mem`);

    await driver.deleteObject('backups', key);
    await expect(restore(engine, 'damaged')).rejects.toThrow(segment.name);

    // A segment of another backup with the same content length and a metadata record made to match it.
    await backup(engine, path, 'other');
    const foreign = await objectBytes(driver, at('other').prefix + segment.name);
    await driver.putObject('backups', key, foreign, { length: foreign.length });
    const forged = { ...result.metadata, digestSegments: { ...result.metadata.digestSegments!, segments: [{ ...segment, length: foreign.length, sha256: createHash('sha256').update(foreign).digest('hex') }] } };
    const bytes = Buffer.from(JSON.stringify(forged));
    await driver.putObject('backups', at('damaged').prefix + METADATA_OBJECT, bytes, { length: bytes.length });
    await expect(restore(engine, 'damaged')).rejects.toThrow(/does not describe blocks 0-127 of backup damaged/);
  });

  it('stores the digest segment of a mostly empty stretch compressed, and refuses one that does not decompress', async () => {
    const driver = new MemoryStore();
    const engine = new BackupEngine({ driver, backendName: 'mem' });
    // The first segment holds 4 MiB of data (the rest repeats the zero-block digest), the short second one is dense.
    const path = await sparseFile('squeezed', SEGMENT + 64 * MiB, [[100 * MiB, 4 * MiB], [SEGMENT, 64 * MiB]]);
    const result = await backup(engine, path, 'squeezed');
    const [sparse, dense] = result.metadata.digestSegments!.segments;
    expect(sparse).toMatchObject({ index: 0, compression: 'zstd' });
    // 32 KiB blocks: 4 MiB of digests for the first segment, 64 KiB of them for the second.
    expect(sparse!.length).toBeLessThan(256 * 1024);
    expect(dense!.compression).toBeUndefined();
    await expectSameContent((await restore(engine, 'squeezed')).path, path);

    // Well-formed metadata pointing at bytes that are not zstd: a clear refusal, never garbage digests.
    const key = at('squeezed').prefix + sparse!.name;
    const junk = randomBytes(sparse!.length);
    await driver.putObject('backups', key, junk, { length: junk.length });
    const forged = {
      ...result.metadata,
      digestSegments: { ...result.metadata.digestSegments!, segments: [{ ...sparse!, sha256: createHash('sha256').update(junk).digest('hex') }, dense] },
    };
    const bytes = Buffer.from(JSON.stringify(forged));
    await driver.putObject('backups', at('squeezed').prefix + METADATA_OBJECT, bytes, { length: bytes.length });
    await expect(restore(engine, 'squeezed')).rejects.toThrow(`digest segment backups/${key} on backend mem does not decompress`);
  });

  it('restores a block that was partly a hole without allocating its zero pages', async () => {
    const engine = new BackupEngine({ driver: new MemoryStore(), backendName: 'mem', chunkSize: MiB });
    // One 4 KiB page of data in the middle of every third 32 KiB block: each block is 7/8 hole.
    const runs = Array.from({ length: 64 }, (_, i): [number, number] => [i * 3 * BLOCK + 8192, 4096]);
    const path = await sparseFile('pages', 8 * MiB, runs);
    const sourceAllocated = (await stat(path)).blocks * 512;
    await backup(engine, path, 'pages');
    const restored = await restore(engine, 'pages');
    await expectSameContent(restored.path, path);
    // Its data pages, plus perhaps a filesystem extent block: far less than 64 whole blocks.
    expect(sourceAllocated).toBeLessThan(2 * 64 * 4096);
    expect(restored.allocated).toBeLessThanOrEqual(sourceAllocated);
  });

  it('clears the hole part of a block that also holds data, whatever a reused chunk buffer held before', async () => {
    const engine = new BackupEngine({ driver: new MemoryStore(), backendName: 'mem', chunkSize: MiB, concurrency: 2 });
    // Even chunks all random (they fill the reused buffers), odd ones with data in part of a block only: a hole
    // after data ends inside block 0, a hole before data spans block 1 and ends inside block 2; every other block is a hole.
    const runs: Array<[number, number]> = [];
    for (let chunk = 0; chunk < 16; chunk += 1) {
      const start = chunk * MiB;
      if (chunk % 2 === 0) runs.push([start, MiB]);
      else runs.push([start, 5000], [start + 80 * 1024, 6000]);
    }
    const path = await sparseFile('reused', 16 * MiB, runs);
    await backup(engine, path, 'reused');
    await expectSameContent((await restore(engine, 'reused')).path, path);
    expect(await sha256File((await restore(engine, 'reused')).path)).toBe(await sha256File(path));
  });

  it('refuses blocks the metadata records as zero when the digest table says they hold data, at any place in the volume', async () => {
    const driver = new MemoryStore();
    const engine = new BackupEngine({ driver, backendName: 'mem', chunkSize: MiB });
    const path = await sparseFile('forged-zero', 16 * MiB, [[0, 16 * MiB]]);
    const result = await backup(engine, path, 'forged-zero');
    // One chunk object's blocks listed as zero instead. The zero runs are checked between the objects, in volume
    // order: a forged run at the start, in the middle (after objects have been restored) and at the end each fail.
    expect(result.metadata.objects).toHaveLength(16);
    for (const index of [0, 8, 15]) {
      // Chunk objects are numbered as they finish, not in volume order.
      const dropped = result.metadata.objects.find((object) => object.runs[0]![0] === index * 32)!;
      expect(dropped.runs).toEqual([[index * 32, 32]]);
      const forged = { ...result.metadata, objects: result.metadata.objects.filter((object) => object !== dropped), zeroRuns: dropped.runs };
      const bytes = Buffer.from(JSON.stringify(forged));
      await driver.putObject('backups', at('forged-zero').prefix + METADATA_OBJECT, bytes, { length: bytes.length });
      await expect(restore(engine, 'forged-zero')).rejects.toThrow(`blocks ${index * 32}-${index * 32 + 31} are recorded as zero but their sha256 differ`);
    }
  });

  it('reads data that crosses the windows extents are asked for in (32 chunks), and nothing else', async () => {
    const engine = new BackupEngine({ driver: new MemoryStore(), backendName: 'mem', chunkSize: MiB });
    // Windows of 32 MiB at 1 MiB chunks: runs across the first and second window boundaries, and one ending the file.
    const runs: Array<[number, number]> = [[31 * MiB + 512 * 1024, 2 * MiB], [63 * MiB + 4096, 2 * MiB], [99 * MiB, MiB]];
    const path = await sparseFile('windows', 100 * MiB, runs);
    const result = await backup(engine, path, 'windows');
    expect(result.bytesRead).toBe(5 * MiB);
    expect(await sha256File((await restore(engine, 'windows')).path)).toBe(await sha256File(path));
  });
});
