import {
  BackupEngine,
  ConfigError,
  InvalidBackupError,
  METADATA_OBJECT,
  NotFoundError,
  StowageError,
  openRestoreFile,
  openVolumeFile,
  parseCompressionAlgorithm,
} from '@stowage/core';
import { mkdtemp, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MemoryStore } from '../src/memory-store.js';
import { generateVolumeFile, mutateVolumeFile, sha256File } from '../src/volume-files.js';

const MiB = 1024 * 1024;
const dir = await mkdtemp(join(tmpdir(), 'stowage-engine-'));
afterAll(() => rm(dir, { recursive: true, force: true }));

const at = (name: string) => ({ container: 'backups', prefix: `volume_v/backup_${name}/` });

async function backup(engine: BackupEngine, file: string, name: string, parent?: string) {
  const source = await openVolumeFile(file);
  try {
    return await engine.backup({ ...at(name), backupId: name, volumeId: 'v', source, parent: parent ? at(parent) : undefined });
  } finally {
    await source.close();
  }
}

async function keysUnder(driver: MemoryStore, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const key of driver.listObjects('backups', prefix)) keys.push(key);
  return keys;
}

async function readAll(body: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of body) parts.push(Buffer.from(part));
  return Buffer.concat(parts);
}

async function restore(engine: BackupEngine, name: string, file: string): Promise<string> {
  const target = await openRestoreFile(file);
  try {
    await engine.restore({ ...at(name), target });
  } finally {
    await target.close();
  }
  return sha256File(file);
}

describe('engine configuration', () => {
  const driver = new MemoryStore();
  it('rejects a chunk size that is not a multiple of the block size, naming both', () => {
    expect(() => new BackupEngine({ driver, backendName: 'b', chunkSize: 100_000 })).toThrow(
      /chunk size 100000 must be a positive multiple of the block size 32768/,
    );
  });
  it('rejects a chunk larger than the backend accepts', () => {
    expect(() => new BackupEngine({ driver, backendName: 'b', chunkSize: 2048 * MiB })).toThrow(ConfigError);
  });
  it('accepts Cinder spellings of compression algorithms', () => {
    expect(parseCompressionAlgorithm('ZSTD')).toBe('zstd');
    expect(parseCompressionAlgorithm('gzip')).toBe('zlib');
    expect(parseCompressionAlgorithm('off')).toBe('none');
    expect(parseCompressionAlgorithm('bz2')).toBeUndefined();
  });
});

describe('engine behaviour', () => {
  it('records per chunk whether compression helped', async () => {
    const driver = new MemoryStore();
    const engine = new BackupEngine({ driver, backendName: 'mem', chunkSize: MiB });
    const file = join(dir, 'mixed');
    await generateVolumeFile(file, { size: 8 * MiB, runSize: MiB, seed: 'mixed', mix: { random: 0.5, zero: 0, text: 0.5 } });
    const result = await backup(engine, file, 'mixed');
    const kinds = new Set(result.metadata.objects.map((object) => object.compression));
    expect(kinds).toEqual(new Set(['zstd', 'none']));
    for (const object of result.metadata.objects) {
      if (object.compression === 'none') expect(object.storedLength).toBe(object.rawLength);
      else expect(object.storedLength).toBeLessThan(object.rawLength / 2);
    }
  });

  it('round-trips with zlib and with no compression, and volumes whose size is not a block multiple', async () => {
    const file = join(dir, 'odd');
    await generateVolumeFile(file, { size: 3 * MiB + 12_345, runSize: 512 * 1024, seed: 'odd' });
    for (const algorithm of ['zlib', 'none'] as const) {
      const engine = new BackupEngine({ driver: new MemoryStore(), backendName: 'mem', chunkSize: MiB, compression: { algorithm } });
      await backup(engine, file, algorithm);
      expect(await restore(engine, algorithm, join(dir, `odd-${algorithm}`))).toBe(await sha256File(file));
    }
  });

  it('backs up a volume that grew since its parent', async () => {
    const engine = new BackupEngine({ driver: new MemoryStore(), backendName: 'mem', chunkSize: MiB });
    const file = join(dir, 'grow');
    await generateVolumeFile(file, { size: 4 * MiB, runSize: MiB, seed: 'grow', mix: { random: 1, zero: 0, text: 0 } });
    await backup(engine, file, 'small');
    await truncate(file, 6 * MiB);
    const grown = await backup(engine, file, 'grown', 'small');
    expect(grown.changedBytes).toBe(0);
    expect(grown.metadata.zeroRuns).toEqual([[128, 64]]);
    expect(await restore(engine, 'grown', join(dir, 'grow-restored'))).toBe(await sha256File(file));
  });

  it('restores an incremental whose parent is in another container, byte-identical, and deletes each member where it lives', async () => {
    const driver = new MemoryStore();
    const engine = new BackupEngine({ driver, backendName: 'mem', chunkSize: MiB });
    const file = join(dir, 'two-containers');
    await generateVolumeFile(file, { size: 4 * MiB, runSize: MiB, seed: 'two-containers', mix: { random: 1, zero: 0, text: 0 } });
    const full = { container: 'x', prefix: 'volume_v/backup_full/' };
    const incremental = { container: 'y', prefix: 'volume_v/backup_incr/' };
    let source = await openVolumeFile(file);
    await engine.backup({ ...full, backupId: 'full', volumeId: 'v', source });
    await source.close();
    await mutateVolumeFile(file, { seed: 'two-containers-2', fraction: 0.02 });
    source = await openVolumeFile(file);
    const result = await engine.backup({ ...incremental, backupId: 'incr', volumeId: 'v', source, parent: full });
    await source.close();
    // The link names the parent's own location, so the chain can be walked from storage alone.
    expect(result.metadata.parent).toEqual({ ...full, backupId: 'full' });
    expect(result.changedBytes).toBeLessThan(4 * MiB);

    const restored = join(dir, 'two-containers-restored');
    const target = await openRestoreFile(restored);
    const outcome = await engine.restore({ ...incremental, target }).finally(() => target.close());
    expect(outcome.chain).toEqual(['full', 'incr']);
    expect(await sha256File(restored)).toBe(await sha256File(file));

    await engine.delete(incremental);
    await engine.delete(full);
    for (const container of ['x', 'y']) {
      const left: string[] = [];
      for await (const key of driver.listObjects(container, 'volume_v/')) left.push(key);
      expect(left).toEqual([]);
    }
  });

  it('reads a parent link without a container as the parent in the child\'s container (metadata not written by v1 writers)', async () => {
    const driver = new MemoryStore();
    const engine = new BackupEngine({ driver, backendName: 'mem', chunkSize: MiB });
    const file = join(dir, 'bare-link');
    await generateVolumeFile(file, { size: 2 * MiB, runSize: MiB, seed: 'bare-link' });
    await backup(engine, file, 'bare-full');
    await mutateVolumeFile(file, { seed: 'bare-link-2', fraction: 0.02, writeSize: 32 * 1024 });
    const child = await backup(engine, file, 'bare-child', 'bare-full');
    const bytes = Buffer.from(JSON.stringify({ ...child.metadata, parent: { backupId: 'bare-full' } }));
    await driver.putObject('backups', `${at('bare-child').prefix}${METADATA_OBJECT}`, bytes, { length: bytes.length });
    expect(await restore(engine, 'bare-child', join(dir, 'bare-link-restored'))).toBe(await sha256File(file));
  });

  it('refuses another backup\'s objects copied into a prefix, naming both ids, before the target is touched', async () => {
    const driver = new MemoryStore();
    const engine = new BackupEngine({ driver, backendName: 'mem', chunkSize: MiB });
    const file = join(dir, 'impostor');
    await generateVolumeFile(file, { size: 2 * MiB, runSize: MiB, seed: 'impostor' });
    await backup(engine, file, 'mine');
    await backup(engine, file, 'theirs');
    for (const key of await keysUnder(driver, at('mine').prefix)) await driver.deleteObject('backups', key);
    for (const key of await keysUnder(driver, at('theirs').prefix)) {
      const bytes = await readAll(await driver.getObject('backups', key));
      await driver.putObject('backups', at('mine').prefix + key.slice(at('theirs').prefix.length), bytes, { length: bytes.length });
    }
    const targetFile = join(dir, 'impostor-target');
    await writeFile(targetFile, 'untouched');
    const target = await openRestoreFile(targetFile);
    const refused = await engine
      .restore({ ...at('mine'), target, expected: { backupId: 'mine', volumeId: 'v', volumeSize: 2 * MiB } })
      .finally(() => target.close())
      .catch((error: unknown) => error);
    expect(InvalidBackupError.isInstance(refused)).toBe(true);
    expect((refused as Error).message).toMatch(/records backup id theirs, the record says mine/);
    expect(await readFile(targetFile, 'utf8')).toBe('untouched');
    await expect(engine.readMetadata(at('mine'), undefined, { backupId: 'mine' })).rejects.toThrow(/backup id theirs, the record says mine/);
  });

  it('refuses metadata whose volume size or volume id disagrees with the record, naming both values', async () => {
    const engine = new BackupEngine({ driver: new MemoryStore(), backendName: 'mem', chunkSize: MiB });
    const file = join(dir, 'sized');
    await generateVolumeFile(file, { size: 2 * MiB, runSize: MiB, seed: 'sized' });
    await backup(engine, file, 'sized');
    const targetFile = join(dir, 'sized-target');
    await writeFile(targetFile, Buffer.alloc(MiB));
    const target = await openRestoreFile(targetFile);
    const refused = engine
      .restore({ ...at('sized'), target, expected: { backupId: 'sized', volumeId: 'v', volumeSize: MiB } })
      .finally(() => target.close());
    await expect(refused).rejects.toThrow(/volume size 2097152 bytes, the record says 1048576 bytes/);
    expect((await stat(targetFile)).size).toBe(MiB);
    await expect(engine.readMetadata(at('sized'), undefined, { backupId: 'sized', volumeId: 'w' })).rejects.toThrow(
      /volume id v, the record says w/,
    );
    const agreed = await engine.readMetadata(at('sized'), undefined, { backupId: 'sized', volumeId: 'v', volumeSize: 2 * MiB });
    expect(agreed.backupId).toBe('sized');
  });

  it('refuses an incremental when the block size changed', async () => {
    const driver = new MemoryStore();
    const file = join(dir, 'blocks');
    await generateVolumeFile(file, { size: 2 * MiB, runSize: MiB, seed: 'blocks' });
    await backup(new BackupEngine({ driver, backendName: 'mem', chunkSize: MiB }), file, 'parent');
    const other = new BackupEngine({ driver, backendName: 'mem', chunkSize: MiB, blockSize: 64 * 1024 });
    await expect(backup(other, file, 'child', 'parent')).rejects.toThrow(/block size changed, take a full backup/);
  });

  it('refuses to restore an incomplete backup (no metadata) and names it', async () => {
    const driver = new MemoryStore();
    const engine = new BackupEngine({ driver, backendName: 'mem', chunkSize: MiB });
    const file = join(dir, 'incomplete');
    await generateVolumeFile(file, { size: 2 * MiB, runSize: MiB, seed: 'incomplete' });
    await backup(engine, file, 'gone');
    await driver.deleteObject('backups', `${at('gone').prefix}${METADATA_OBJECT}`);
    const error = await restore(engine, 'gone', join(dir, 'never')).catch((thrown: unknown) => thrown);
    expect(InvalidBackupError.isInstance(error)).toBe(true);
    expect((error as Error).message).toMatch(/volume_v\/backup_gone\/ on backend mem has no metadata object/);
    expect(NotFoundError.isInstance((error as Error).cause)).toBe(true);
  });

  it('refuses metadata of an unknown format version', async () => {
    const driver = new MemoryStore();
    const engine = new BackupEngine({ driver, backendName: 'mem' });
    const bytes = Buffer.from(JSON.stringify({ format: 'stowage.backup/v9' }));
    await driver.putObject('backups', `${at('future').prefix}${METADATA_OBJECT}`, bytes, {
      length: bytes.length,
      sha256: (await import('node:crypto')).createHash('sha256').update(bytes).digest('hex'),
    });
    await expect(engine.readMetadata(at('future'))).rejects.toThrow(/format "stowage.backup\/v9"; this version of Stowage reads stowage.backup\/v1/);
  });

  it('refuses to delete something that is not a backup prefix', async () => {
    const engine = new BackupEngine({ driver: new MemoryStore(), backendName: 'mem' });
    await expect(engine.delete({ container: 'backups', prefix: 'volume_v' })).rejects.toThrow(/ends with "\/"/);
  });

  it('reports progress up to the volume size', async () => {
    const engine = new BackupEngine({ driver: new MemoryStore(), backendName: 'mem', chunkSize: MiB });
    const file = join(dir, 'progress');
    await writeFile(file, Buffer.alloc(0));
    await generateVolumeFile(file, { size: 5 * MiB, runSize: MiB, seed: 'progress' });
    const seen: number[] = [];
    const source = await openVolumeFile(file);
    await engine.backup({ ...at('p'), backupId: 'p', volumeId: 'v', source, onProgress: ({ bytesDone }) => seen.push(bytesDone) });
    await source.close();
    expect(seen.at(-1)).toBe(5 * MiB);
    expect([...seen].sort((a, b) => a - b)).toEqual(seen);
  });
});

describe('typed errors', () => {
  it('are recognised across package copies by their marker and code', () => {
    // What a second copy of @stowage/core would throw: same global symbol, same code, different class.
    const foreign = Object.assign(new Error('copy'), { [Symbol.for('stowage.error')]: true, code: 'NOT_FOUND' });
    expect(NotFoundError.isInstance(foreign)).toBe(true);
    expect(InvalidBackupError.isInstance(foreign)).toBe(false);
    expect(StowageError.isInstance(foreign)).toBe(true);
    expect(NotFoundError.isInstance(new Error('plain'))).toBe(false);
  });

  it('carry cause, backend and object', () => {
    const cause = new Error('ECONNREFUSED');
    const error = new NotFoundError('missing', { cause, backend: 'b1', container: 'c', object: 'o' });
    expect(error.cause).toBe(cause);
    expect([error.code, error.backend, error.container, error.object, error.name]).toEqual(['NOT_FOUND', 'b1', 'c', 'o', 'NotFoundError']);
  });
});
