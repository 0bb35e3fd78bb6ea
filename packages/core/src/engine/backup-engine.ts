import {
  AbortedError,
  AuthenticationFailedError,
  ChecksumMismatchError,
  EncryptionKeyError,
  ConfigError,
  InvalidBackupError,
  NotFoundError,
  throwIfAborted,
  type ObjectBody,
  type StorageDriver,
} from '@stowage/driver-contract';
import { appendToRuns, DIGEST_BYTES, mergeRuns, sha256, type BlockRun } from './blocks.js';
import type { CompressionSettings } from './compression.js';
import {
  BACKUP_FORMAT_V2,
  METADATA_OBJECT,
  chunkObjectName,
  parentLocation,
  parseMetadata,
  parseSha256Object,
  serializeMetadata,
  type BackupLocation,
  type BackupMetadata,
  type StoredObjectRecord,
} from './format.js';
import { BufferPool, readBody, readBodyInto } from './buffers.js';
import { TaskWindow } from './task-window.js';
import { CodecPool, sharedCodecPool } from './codec-pool.js';
import type { RestoreTarget, VolumeSource } from './volume-io.js';
import type { Extent } from './sparse.js';
import {
  BlockGeometry,
  DEFAULT_BLOCKS_PER_SEGMENT,
  DigestSegmentWriter,
  digestSegmentName,
  segmentedSource,
  wholeTableSource,
  type CompletedSegment,
  type DigestSegmentRecord,
  type DigestSource,
} from './digest-table.js';
import { BlockSourceMap, ZERO_SOURCE, type SourcedInterval } from './block-map.js';
import {
  BACKUP_FORMAT_V3_ENCRYPTED,
  ENCRYPTION_ALGORITHM,
  ENVELOPE_OVERHEAD,
  objectAad,
  open,
  seal,
  sealMetadata,
  splitEncryptedMetadata,
  type ObjectEncryption,
} from './object-crypto.js';

const MiB = 1024 * 1024;
export const DEFAULT_BLOCK_SIZE = 32 * 1024;
/** Chosen by measurement (docs/benchmarks.md): 8 MiB keeps both cores busy with ~80 MiB in flight. */
export const DEFAULT_CHUNK_SIZE = 8 * MiB;
/** Metadata grows with the number of objects (~150 bytes each); this bounds a corrupt or hostile one. */
const MAX_METADATA_BYTES = 256 * MiB;
export const DEFAULT_COMPRESSION: CompressionSettings = { algorithm: 'zstd', level: 1 };

export interface EngineOptions {
  readonly driver: StorageDriver;
  /** The backend's configured name, for error messages. */
  readonly backendName: string;
  readonly chunkSize?: number | undefined;
  readonly blockSize?: number | undefined;
  readonly compression?: CompressionSettings | undefined;
  /** Chunks in flight at once (read, compressed, uploading). Bounds memory: about 2 x chunkSize each. */
  readonly concurrency?: number | undefined;
  /** Worker threads that hash, compress and verify chunks (default: one shared pool, a worker per core). */
  readonly codecPool?: CodecPool | undefined;
}

export interface Progress {
  readonly bytesDone: number;
  readonly bytesTotal: number;
  /** A backup's bytes written to the backend so far (after compression); absent on restore. */
  readonly bytesStored?: number | undefined;
}

export interface BackupRequest extends BackupLocation {
  readonly backupId: string;
  readonly volumeId: string;
  readonly source: VolumeSource;
  /** The backup this one is an incremental of (its location); omit for a full backup. */
  readonly parent?: BackupLocation | undefined;
  readonly signal?: AbortSignal | undefined;
  readonly onProgress?: ((progress: Progress) => void) | undefined;
  readonly extra?: Record<string, unknown> | undefined;
  readonly createdAt?: Date | undefined;
  /** Encrypt every object with this data key (format v3-encrypted); an incremental's parent must use the same key. */
  readonly encryption?: ObjectEncryption | undefined;
}

export interface BackupResult {
  readonly objectCount: number;
  readonly storedBytes: number;
  readonly changedBytes: number;
  readonly volumeSize: number;
  readonly metadata: BackupMetadata;
}

/**
 * What the caller's records (the service's database row) say a backup is. Metadata that disagrees belongs to
 * another backup (objects copied or moved into this prefix) or to an edited record, and is refused.
 */
export interface ExpectedBackup {
  readonly backupId: string;
  /** Omit when the record does not know the volume. */
  readonly volumeId?: string | undefined;
  /** The backed-up volume's size in bytes. */
  readonly volumeSize?: number | undefined;
}

export interface RestoreRequest extends BackupLocation {
  readonly target: RestoreTarget;
  /** Checked against the newest backup's metadata before anything is written to the target. */
  readonly expected?: ExpectedBackup | undefined;
  readonly signal?: AbortSignal | undefined;
  readonly onProgress?: ((progress: Progress) => void) | undefined;
  /** The data key of an encrypted backup's chain; a backup recorded as encrypted must be given it. */
  readonly encryption?: ObjectEncryption | undefined;
}

export interface RestoreResult {
  readonly volumeSize: number;
  /** Backups applied, full backup first. */
  readonly chain: readonly string[];
  readonly bytesWritten: number;
  readonly objectsRead: number;
}

interface ChainObject {
  /** The container of the chain member that stored it: an incremental's parent may live in another one. */
  readonly container: string;
  /** The chain member's backup id (bound into an encrypted object's associated data). */
  readonly backupId: string;
  readonly key: string;
  readonly record: StoredObjectRecord;
  /** The blocks `[first, end)` of which this object holds the newest copy. */
  readonly live: Array<[first: number, end: number]>;
}

/**
 * Cinder's chunked backup driver, done better: blocks are hashed for incrementals and integrity, zero blocks cost
 * nothing, chunks are compressed on the thread pool and uploaded several at once, and memory is bounded by
 * `concurrency x chunkSize` plus 32 bytes per block for the digest table.
 */
export class BackupEngine {
  readonly driver: StorageDriver;
  readonly backendName: string;
  readonly chunkSize: number;
  readonly blockSize: number;
  readonly compression: CompressionSettings;
  readonly concurrency: number;
  readonly #codec: CodecPool;

  constructor(options: EngineOptions) {
    this.#codec = options.codecPool ?? sharedCodecPool();
    this.driver = options.driver;
    this.backendName = options.backendName;
    this.blockSize = options.blockSize ?? DEFAULT_BLOCK_SIZE;
    this.chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
    this.compression = options.compression ?? DEFAULT_COMPRESSION;
    // Enough chunks in flight to keep every codec worker busy with one queued behind it while others are read and
    // stored, and as many uploads as the backend likes (network stores hide latency with parallel requests), within
    // a memory bound (two reusable chunk-sized buffers per slot). Measured on 2 cores, 1 GiB: 3 slots 1.34 s
    // backup / 1.30 s restore at 151 MiB peak RSS, 5 slots 1.20 s / 1.25 s at 183 MiB.
    this.concurrency =
      options.concurrency ?? Math.min(8, Math.max(this.#codec.size * 2 + 1, options.driver.capabilities.preferredConcurrency));
    if (!Number.isSafeInteger(this.blockSize) || this.blockSize <= 0) {
      throw new ConfigError(`block size ${this.blockSize} must be a positive integer number of bytes`);
    }
    if (!Number.isSafeInteger(this.chunkSize) || this.chunkSize <= 0 || this.chunkSize % this.blockSize !== 0) {
      throw new ConfigError(
        `chunk size ${this.chunkSize} must be a positive multiple of the block size ${this.blockSize}; pick e.g. ${DEFAULT_CHUNK_SIZE}`,
      );
    }
    const maxObject = this.driver.capabilities.maxObjectSize;
    if (this.chunkSize > maxObject) {
      throw new ConfigError(
        `chunk size ${this.chunkSize} exceeds backend ${this.backendName}'s largest object (${maxObject} bytes); lower chunk_size`,
      );
    }
  }

  /** Back up `source` (incrementally when `parent` is given). Resolves only once every object is stored. */
  async backup(request: BackupRequest): Promise<BackupResult> {
    const { container, prefix, source, signal, encryption } = request;
    throwIfAborted(signal, `backup ${request.backupId}`);
    await this.driver.ensureContainer(container, { signal });

    const parent = request.parent ? await this.#loadParent(request.parent, signal, encryption) : undefined;
    const volumeSize = source.size;
    const geometry = new BlockGeometry(volumeSize, this.blockSize, DEFAULT_BLOCKS_PER_SEGMENT);
    const segmentWriter = new DigestSegmentWriter(geometry, request.backupId);
    const segments: DigestSegmentRecord[] = [];
    const objects: StoredObjectRecord[] = [];
    let changedBytes = 0;
    let storedBytes = 0;
    let bytesDone = 0;

    // Buffers are recycled, so memory stays flat: a chunk buffer per in-flight task plus the one being read, and
    // as many output and upload buffers. Chunk and output buffers are shared with the codec workers (worked on in
    // place); for a driver that cannot take shared memory the stored bytes are copied once into an upload buffer,
    // the one copy its fetch requires. Encrypted chunks are sealed on the codec workers into the chunk or output
    // buffer: room for the envelope.
    const room = encryption === undefined ? this.chunkSize : this.chunkSize + ENVELOPE_OVERHEAD;
    const chunkBuffers = new BufferPool(room);
    const outputBuffers = new BufferPool(room);
    const uploadBuffers = new BufferPool(room, 'plain');
    const sharedUploads = this.driver.capabilities.acceptsSharedMemory === true;
    const zeroRunLists: BlockRun[][] = [];
    const holeRuns: BlockRun[] = [];
    const window = new TaskWindow(this.concurrency);
    let written = false;
    const storeSegments = async (completed: CompletedSegment[]) => {
      for (const { index, bytes, compression } of completed) {
        if (bytes === null) continue;
        const name = digestSegmentName(index);
        const stored = encryption === undefined ? bytes : seal(encryption.key, objectAad(request.backupId, name), bytes);
        const digest = sha256(stored).toString('hex');
        written = true;
        await this.#put(container, prefix + name, stored, digest, signal);
        segments.push({ index, name, length: stored.length, sha256: digest, ...(compression && { compression }) });
        storedBytes += stored.length;
      }
    };
    const extentsOf = windowedExtents(source, this.chunkSize * EXTENT_WINDOW_CHUNKS);
    try {
      let sequence = 0;
      for (let offset = 0; offset < volumeSize; offset += this.chunkSize) {
        throwIfAborted(signal, `backup ${request.backupId}`);
        const length = Math.min(this.chunkSize, volumeSize - offset);
        const firstBlock = offset / this.blockSize;
        const chunkBlocks = Math.ceil(length / this.blockSize);
        const extents = await extentsOf(offset, length);
        if (extents !== undefined && extents.length === 0) {
          // A hole: every block is zero without reading it. Changed are those the parent had as data.
          const zeroRuns =
            parent === undefined
              ? [[firstBlock, chunkBlocks] as BlockRun]
              : (await parent.allZero(firstBlock, chunkBlocks))
                ? []
                : changedToZero(geometry, firstBlock, chunkBlocks, await parent.digestsOf(firstBlock, chunkBlocks));
          // Holes come in volume order: joined as they come, a 1 TiB hole is one run, not one per chunk.
          for (const [first, count] of zeroRuns) appendToRuns(holeRuns, first, count);
          // A hole can complete a segment: it is stored beside the chunks in flight, not before the next read.
          const completed = segmentWriter.record(firstBlock, chunkBlocks, null);
          if (completed.some(({ bytes }) => bytes !== null)) await window.add(() => storeSegments(completed));
          bytesDone += length;
          request.onProgress?.({ bytesDone, bytesTotal: volumeSize, bytesStored: storedBytes });
          continue;
        }
        const parentSlice = parent === undefined ? undefined : await parent.digestsOf(firstBlock, chunkBlocks);
        const buffer = chunkBuffers.take(length);
        const holes = extents === undefined ? undefined : new Uint8Array(chunkBlocks);
        const read = await readExtents(source, buffer, offset, extents, holes, this.blockSize);
        if (read !== length) {
          chunkBuffers.give(buffer);
          throw new InvalidBackupError(`volume ${request.volumeId} ended at byte ${offset + read}, expected ${volumeSize}`);
        }
        // An encrypted chunk's name is fixed before it is sealed (it is in the associated data): its region's.
        const sealedName = encryption === undefined ? undefined : chunkObjectName(offset / this.chunkSize + 1);
        await window.add(async () => {
          const encoded = await this.#codec.encode({
            chunk: buffer,
            output: outputBuffers.take(this.chunkSize),
            firstBlock,
            blockSize: this.blockSize,
            parentDigests: parentSlice === undefined ? null : Uint8Array.from(parentSlice),
            compression: this.compression,
            hashStored: this.driver.capabilities.verifiesPutChecksum,
            holes,
            seal: sealedName === undefined ? null : { key: encryption!.key, aad: objectAad(request.backupId, sealedName) },
          });
          const { result, stored } = encoded;
          const releaseShared = () => {
            chunkBuffers.give(encoded.chunk);
            outputBuffers.give(encoded.output);
          };
          // A driver that takes shared memory uploads from the codec's buffer. For the others (fetch refuses shared
          // memory) the stored bytes move to a plain upload buffer, and both shared buffers are free for the next
          // chunk while they upload.
          const copied = result.runs.length > 0 && !sharedUploads ? uploadBuffers.take(stored.length) : undefined;
          copied?.set(stored);
          const upload = result.runs.length === 0 ? undefined : (copied ?? stored);
          if (!sharedUploads) releaseShared();
          try {
            zeroRunLists.push(result.zeroRuns);
            if (upload !== undefined) {
              sequence += 1;
              const name = sealedName ?? chunkObjectName(sequence);
              written = true;
              await this.#put(container, prefix + name, upload, result.storedSha256, signal);
              const { compression, rawLength, runs } = result;
              objects.push({ name, compression, storedLength: upload.length, rawLength, sha256: result.storedSha256, runs });
              changedBytes += rawLength;
              storedBytes += upload.length;
            }
          } finally {
            if (copied !== undefined) uploadBuffers.give(copied);
            if (sharedUploads) releaseShared();
          }
          // Digests are recorded once the chunk is stored: a segment is written only when all its chunks are.
          await storeSegments(segmentWriter.record(firstBlock, chunkBlocks, result.digests));
          bytesDone += length;
          request.onProgress?.({ bytesDone, bytesTotal: volumeSize, bytesStored: storedBytes });
        });
      }
      await window.drain();
      throwIfAborted(signal, `backup ${request.backupId}`);

      // Every chunk and digest segment is stored; the metadata goes last: a backup is complete only once it exists.
      objects.sort((a, b) => a.name.localeCompare(b.name));
      segments.sort((a, b) => a.index - b.index);
      const zeroRuns = mergeRuns([...holeRuns, ...zeroRunLists.flat()]);
      const metadata: BackupMetadata = {
        format: encryption === undefined ? BACKUP_FORMAT_V2 : BACKUP_FORMAT_V3_ENCRYPTED,
        backupId: request.backupId,
        volumeId: request.volumeId,
        parent: request.parent && parent ? { ...request.parent, backupId: parent.backupId } : null,
        createdAt: (request.createdAt ?? new Date()).toISOString(),
        volumeSize,
        blockSize: this.blockSize,
        chunkSize: this.chunkSize,
        objects,
        zeroRuns,
        digestSegments: { blocksPerSegment: geometry.blocksPerSegment, segments },
        stats: { changedBytes, storedBytes },
        extra: request.extra ?? {},
        ...(encryption === undefined ? {} : { encryption: { keyId: encryption.keyId, algorithm: ENCRYPTION_ALGORITHM } }),
      };
      const json = serializeMetadata(metadata);
      const metadataBytes = encryption === undefined ? json : sealMetadata(encryption, request.backupId, METADATA_OBJECT, json);
      await this.#put(container, prefix + METADATA_OBJECT, metadataBytes, sha256(metadataBytes).toString('hex'), signal);
      return { objectCount: objects.length, storedBytes, changedBytes, volumeSize, metadata };
    } catch (error) {
      await window.settle();
      // Leave nothing behind: a failed backup's objects are removed here, and a later delete finds none.
      if (written) await this.delete({ container, prefix }).catch(() => undefined);
      if (signal?.aborted && !AbortedError.isInstance(error)) {
        throw new AbortedError(`backup ${request.backupId} was cancelled`, { cause: error });
      }
      throw error;
    }
  }

  async #put(container: string, key: string, data: Buffer, digest: string | undefined, signal: AbortSignal | undefined): Promise<void> {
    await this.driver.putObject(container, key, data, { length: data.length, sha256: digest, signal });
  }

  /**
   * Read a backup's metadata; `InvalidBackupError` when it is missing (the backup is incomplete or gone), or when
   * it disagrees with `expected` (what the caller's records say the backup is).
   */
  async readMetadata(
    location: BackupLocation,
    signal?: AbortSignal,
    expected?: ExpectedBackup,
    encryption?: ObjectEncryption,
  ): Promise<BackupMetadata> {
    const key = location.prefix + METADATA_OBJECT;
    const bytes = await this.#getObject(location.container, key, MAX_METADATA_BYTES, signal).catch(
      (error: unknown) => {
        if (NotFoundError.isInstance(error)) {
          throw new InvalidBackupError(
            `backup at ${location.container}/${location.prefix} on backend ${this.backendName} has no metadata object: it is incomplete or was deleted`,
            { cause: error, backend: this.backendName, container: location.container, object: key },
          );
        }
        throw error;
      },
    );
    const metadata = parseMetadata(this.#openMetadata(location, bytes, encryption), `${location.container}/${key}`);
    if (expected) this.#checkIdentity(location, metadata, expected);
    return metadata;
  }

  /**
   * The metadata JSON of an encrypted backup (opened with `encryption`), or a plain one's bytes. A backup the
   * caller knows as encrypted must be: plain metadata in its place is refused, so storage cannot downgrade it.
   */
  #openMetadata(location: BackupLocation, bytes: Buffer, encryption: ObjectEncryption | undefined): Buffer {
    const key = location.prefix + METADATA_OBJECT;
    const details = { backend: this.backendName, container: location.container, object: key };
    const where = `backup ${location.container}/${location.prefix} on backend ${this.backendName}`;
    const sealed = splitEncryptedMetadata(bytes);
    if (sealed === undefined) {
      if (encryption !== undefined) {
        throw new InvalidBackupError(`${where} is not encrypted, but was expected encrypted with key ${encryption.keyId}: its metadata was replaced, or the chain mixes plain and encrypted backups (take a full backup)`, details);
      }
      return bytes;
    }
    const { header, envelope } = sealed;
    if (encryption === undefined || encryption.keyId !== header.keyId) {
      const given = encryption === undefined ? 'no key was given' : `key ${encryption.keyId} was given`;
      throw new EncryptionKeyError(`${where} is encrypted with data key ${header.keyId}; ${given}: configure the backend's encryption master key that wraps it`, header.keyId, details);
    }
    const plain = open(encryption.key, objectAad(header.backupId, METADATA_OBJECT), envelope);
    if (plain === undefined) {
      throw new AuthenticationFailedError(`object ${location.container}/${key} on backend ${this.backendName} fails authentication: altered, another backup's metadata, or data key ${header.keyId} is not the one it was sealed with`, details);
    }
    const inner = JSON.parse(plain.toString('utf8')) as { backupId?: unknown };
    if (inner.backupId !== header.backupId) {
      throw new InvalidBackupError(`${where}: sealed metadata of backup ${String(inner.backupId)} under a header of backup ${header.backupId}`, details);
    }
    return plain;
  }

  #checkIdentity(location: BackupLocation, metadata: BackupMetadata, expected: ExpectedBackup): void {
    const where = `backup metadata at ${location.container}/${location.prefix} on backend ${this.backendName}`;
    const disagreements: string[] = [];
    if (metadata.backupId !== expected.backupId) disagreements.push(`backup id ${metadata.backupId}, the record says ${expected.backupId}`);
    if (expected.volumeId !== undefined && metadata.volumeId !== expected.volumeId) {
      disagreements.push(`volume id ${metadata.volumeId}, the record says ${expected.volumeId}`);
    }
    if (expected.volumeSize !== undefined && metadata.volumeSize !== expected.volumeSize) {
      disagreements.push(`volume size ${metadata.volumeSize} bytes, the record says ${expected.volumeSize} bytes`);
    }
    if (disagreements.length > 0) {
      throw new InvalidBackupError(`${where} does not belong to this backup: it records ${disagreements.join('; ')}`, {
        backend: this.backendName,
        container: location.container,
        object: location.prefix + METADATA_OBJECT,
      });
    }
  }

  async #loadParent(parent: BackupLocation, signal: AbortSignal | undefined, encryption: ObjectEncryption | undefined): Promise<ParentDigests> {
    const metadata = await this.readMetadata(parent, signal, undefined, encryption);
    if (metadata.blockSize !== this.blockSize) {
      throw new InvalidBackupError(
        `parent backup ${metadata.backupId} uses ${metadata.blockSize}-byte blocks, this backend ${this.blockSize}: the block size changed, take a full backup`,
      );
    }
    const { geometry, digests } = await this.#digestSource(parent, metadata, signal, encryption);
    // The volume may have grown since: blocks past the parent's end have no parent digest (they are all changed).
    const digestsOf = async (first: number, count: number) => {
      const known = Math.min(count, geometry.blocks - first);
      return known > 0 ? digests.digestsOf(first, known) : Buffer.alloc(0);
    };
    // Compared where they lie, without a copy: most chunks of a thin volume are holes that were holes.
    const allZero = async (first: number, count: number) => first + count <= geometry.blocks && digests.allZero(first, count);
    return { backupId: metadata.backupId, digestsOf, allZero };
  }

  /** The digests a backup recorded for its blocks: v2 segments as needed, or v1's single object loaded whole. */
  async #digestSource(
    location: BackupLocation,
    metadata: BackupMetadata,
    signal: AbortSignal | undefined,
    encryption?: ObjectEncryption,
  ): Promise<{ geometry: BlockGeometry; digests: DigestSource }> {
    const { container, prefix } = location;
    if (metadata.digestSegments !== undefined) {
      const geometry = new BlockGeometry(metadata.volumeSize, metadata.blockSize, metadata.digestSegments.blocksPerSegment);
      const digests = segmentedSource(geometry, metadata.digestSegments.segments, {
        backupId: metadata.backupId,
        backendName: this.backendName,
        container,
        prefix,
        fetch: (key, maxBytes) => this.#getObject(container, key, maxBytes, signal),
        open:
          metadata.format === BACKUP_FORMAT_V3_ENCRYPTED && encryption !== undefined
            ? (name, bytes) => {
                const plain = open(encryption.key, objectAad(metadata.backupId, name), bytes);
                if (plain === undefined) throw this.#authenticationFailed(container, prefix + name);
                return plain;
              }
            : undefined,
      });
      return { geometry, digests };
    }
    const table = metadata.sha256Object!;
    const key = prefix + table.name;
    const bytes = await this.#getObject(container, key, table.length, signal);
    if (sha256(bytes).toString('hex') !== table.sha256) {
      throw new ChecksumMismatchError(
        `sha256 object ${container}/${key} on backend ${this.backendName} does not match its recorded checksum`,
        { backend: this.backendName, container, object: key },
      );
    }
    const { header, digests } = parseSha256Object(bytes, `${container}/${key}`);
    if (header.backupId !== metadata.backupId || header.volumeSize !== metadata.volumeSize || header.blockSize !== metadata.blockSize) {
      throw new InvalidBackupError(
        `sha256 object ${container}/${key} on backend ${this.backendName} is of backup ${header.backupId} (${header.volumeSize} bytes, ${header.blockSize}-byte blocks), its metadata of backup ${metadata.backupId} (${metadata.volumeSize} bytes, ${metadata.blockSize}-byte blocks)`,
        { backend: this.backendName, container, object: key },
      );
    }
    const geometry = new BlockGeometry(metadata.volumeSize, metadata.blockSize, DEFAULT_BLOCKS_PER_SEGMENT);
    return { geometry, digests: wholeTableSource(digests, geometry) };
  }

  /** Fetch a whole object of at most `maxBytes` (metadata, sha256 objects). */
  #getObject(container: string, key: string, maxBytes: number, signal: AbortSignal | undefined): Promise<Buffer> {
    return this.#fetch(container, key, signal, (body) => readBody(body, maxBytes));
  }

  /** Read a whole object into `target`; returns its length. Uses the driver's direct read when it has one. */
  async #readInto(container: string, key: string, target: Buffer, signal: AbortSignal | undefined): Promise<number> {
    const { driver } = this;
    if (driver.readObjectInto === undefined) return this.#fetch(container, key, signal, (body) => readBodyInto(body, target));
    try {
      return await driver.readObjectInto(container, key, target, { signal });
    } catch (error) {
      throw this.#tooLong(error, container, key);
    }
  }

  /** An object longer than recorded (the readers' RangeError) is corrupt: say which one. */
  async #fetch<T>(container: string, key: string, signal: AbortSignal | undefined, read: (body: ObjectBody) => Promise<T>): Promise<T> {
    const body = await this.driver.getObject(container, key, { signal });
    try {
      return await read(body);
    } catch (error) {
      throw this.#tooLong(error, container, key);
    }
  }

  #authenticationFailed(container: string, key: string): AuthenticationFailedError {
    return new AuthenticationFailedError(
      `object ${container}/${key} on backend ${this.backendName} fails authentication (AES-256-GCM): it was altered, or was moved from another backup, project or position`,
      { backend: this.backendName, container, object: key },
    );
  }

  #tooLong(error: unknown, container: string, key: string): unknown {
    if (!(error instanceof RangeError)) return error;
    return new ChecksumMismatchError(`object ${container}/${key} on backend ${this.backendName}: ${error.message}`, {
      cause: error,
      backend: this.backendName,
      container,
      object: key,
    });
  }

  /** Load the chain of metadata from the full backup to `location`. */
  async readChain(
    location: BackupLocation,
    signal?: AbortSignal,
    expected?: ExpectedBackup,
    encryption?: ObjectEncryption,
  ): Promise<Array<{ location: BackupLocation; metadata: BackupMetadata }>> {
    const chain: Array<{ location: BackupLocation; metadata: BackupMetadata }> = [];
    let next: BackupLocation | null = location;
    let nextExpected: ExpectedBackup | undefined = expected;
    const seen = new Set<string>();
    while (next !== null) {
      const id = `${next.container}/${next.prefix}`;
      if (seen.has(id) || chain.length > 10_000) throw new InvalidBackupError(`backup chain through ${id} loops`);
      seen.add(id);
      const metadata = await this.readMetadata(next, signal, nextExpected, encryption);
      chain.unshift({ location: next, metadata });
      // A parent must be the backup its child names, wherever it is found.
      nextExpected = metadata.parent ? { backupId: metadata.parent.backupId } : undefined;
      next = parentLocation(metadata, next);
    }
    return chain;
  }

  /**
   * Restore the backup at `location` (applying its chain from the full backup forward) into `target`.
   * Every block is verified against the sha256 recorded at backup time; a mismatch throws
   * `ChecksumMismatchError` naming the object. Only the newest copy of each block is fetched and written.
   */
  async restore(request: RestoreRequest): Promise<RestoreResult> {
    const { signal, encryption } = request;
    const chain = await this.readChain(request, signal, request.expected, encryption);
    const newest = chain[chain.length - 1]!;
    const { volumeSize, blockSize } = newest.metadata;
    for (const { metadata } of chain) {
      if (metadata.blockSize !== blockSize) {
        throw new InvalidBackupError(`backup ${metadata.backupId} in the chain uses a different block size`);
      }
    }
    const { geometry, digests } = await this.#digestSource(request, newest.metadata, signal, encryption);

    // Which chain object holds each block's newest copy, as intervals (newest member first).
    const objects: ChainObject[] = [];
    const members: SourcedInterval[][] = [];
    for (const { location, metadata } of chain) {
      const intervals: SourcedInterval[] = metadata.zeroRuns.map(([first, count]) => [first, first + count, ZERO_SOURCE]);
      for (const record of metadata.objects) {
        const index = objects.push({ container: location.container, backupId: metadata.backupId, key: location.prefix + record.name, record, live: [] }) - 1;
        for (const [first, count] of record.runs) intervals.push([first, first + count, index]);
      }
      members.push(intervals);
    }
    const map = new BlockSourceMap(geometry.blocks);
    for (const intervals of members.reverse()) map.addMember(intervals);
    const gap = map.firstGap();
    if (gap !== undefined) throw new InvalidBackupError(`backup ${newest.metadata.backupId}: no backup in its chain holds block ${gap}`);
    const zeroIntervals: Array<[first: number, end: number]> = [];
    for (const [first, end, source] of map.intervals()) {
      if (source !== ZERO_SOURCE) objects[source]!.live.push([first, end]);
      else zeroIntervals.push([first, end]);
    }
    const live = objects.filter((object) => object.live.length > 0).sort((a, b) => a.live[0]![0] - b.live[0]![0]);
    // Blocks restored as zero must be recorded with the zero digest. Checked in volume order between the objects,
    // so that each digest segment is read once, for both the check and the objects' blocks.
    let nextZero = 0;
    const checkZerosBefore = async (block: number) => {
      for (; nextZero < zeroIntervals.length && zeroIntervals[nextZero]![0] < block; nextZero += 1) {
        const [first, end] = zeroIntervals[nextZero]!;
        if (await digests.allZero(first, end - first)) continue;
        throw new ChecksumMismatchError(
          `backup ${newest.metadata.backupId}: blocks ${first}-${end - 1} are recorded as zero but their sha256 differ (metadata or digest table corrupt)`,
          { backend: this.backendName, container: request.container, object: request.prefix + METADATA_OBJECT },
        );
      }
    };

    await request.target.prepare(volumeSize);
    const bufferSize = Math.max(...chain.map(({ metadata }) => metadata.chunkSize));
    const sealed = encryption === undefined ? 0 : ENVELOPE_OVERHEAD;
    const buffers = { stored: new BufferPool(bufferSize + sealed), output: new BufferPool(bufferSize) };
    let bytesDone = 0;
    const window = new TaskWindow(this.concurrency);
    try {
      for (const object of live) {
        throwIfAborted(signal, `restore of backup ${newest.metadata.backupId}`);
        await checkZerosBefore(object.live[0]![0]);
        await window.add(async () => {
          const written = await this.#restoreObject(request, object, digests, blockSize, volumeSize, buffers);
          bytesDone += written;
          request.onProgress?.({ bytesDone, bytesTotal: volumeSize });
        });
      }
      await checkZerosBefore(Number.POSITIVE_INFINITY);
      await window.drain();
    } catch (error) {
      // Nothing may still write to the target once the restore has failed.
      await window.settle();
      throw error;
    }
    await request.target.flush();
    return {
      volumeSize,
      chain: chain.map(({ metadata }) => metadata.backupId),
      bytesWritten: bytesDone,
      objectsRead: live.length,
    };
  }

  async #restoreObject(
    request: RestoreRequest,
    object: ChainObject,
    digests: DigestSource,
    blockSize: number,
    volumeSize: number,
    buffers: { stored: BufferPool; output: BufferPool },
  ): Promise<number> {
    const { container, record, key } = object;
    const corrupt = (detail: string, cause?: unknown) =>
      new ChecksumMismatchError(`object ${container}/${key} on backend ${this.backendName} is corrupt: ${detail}`, {
        cause,
        backend: this.backendName,
        container,
        object: key,
      });
    if (record.storedLength > buffers.stored.size || record.rawLength > buffers.output.size) {
      throw corrupt(`recorded sizes (${record.storedLength} stored, ${record.rawLength} raw) exceed the backup's chunk size`);
    }
    let stored = buffers.stored.take(record.storedLength);
    try {
      const filled = await this.#readInto(container, key, stored, request.signal);
      if (filled !== record.storedLength) throw corrupt(`${filled} bytes stored, ${record.storedLength} recorded`);
    } catch (error) {
      buffers.stored.give(stored);
      throw error;
    }
    // Which payload blocks this object contributes, and the digests they must have.
    const payloadBlocks = record.runs.reduce((total, [, count]) => total + count, 0);
    const live = new Uint8Array(payloadBlocks);
    const expected = new Uint8Array(payloadBlocks * DIGEST_BYTES);
    let runStart = 0;
    for (const [first, count] of record.runs) {
      for (const [liveFirst, liveEnd] of object.live) {
        const from = Math.max(first, liveFirst);
        const to = Math.min(first + count, liveEnd);
        if (from >= to) continue;
        const at = runStart + from - first;
        live.fill(1, at, at + to - from);
        expected.set(await digests.digestsOf(from, to - from), at * DIGEST_BYTES);
      }
      runStart += count;
    }
    const decoded = await this.#codec.decode({
      stored,
      output: buffers.output.take(record.rawLength),
      compression: record.compression,
      rawLength: record.rawLength,
      runs: record.runs,
      blockSize,
      volumeSize,
      live,
      expected,
      open: request.encryption === undefined ? null : { key: request.encryption.key, aad: objectAad(object.backupId, record.name) },
    });
    stored = decoded.stored;
    let written = 0;
    try {
      if (!decoded.result.ok) throw decoded.result.authenticationFailed ? this.#authenticationFailed(container, key) : corrupt(decoded.result.reason);
      for (const [start, end, volumeOffset] of decoded.result.spans) {
        await request.target.write(decoded.raw.subarray(start, end), volumeOffset);
        written += end - start;
      }
    } finally {
      buffers.stored.give(decoded.stored);
      buffers.output.give(decoded.output);
    }
    return written;
  }

  /**
   * Delete every object of the backup at `location`. The metadata goes first, so an interrupted delete leaves
   * an incomplete backup (never a restorable-looking broken one); deleting again finishes the job.
   */
  async delete(location: BackupLocation, signal?: AbortSignal): Promise<{ objectsDeleted: number }> {
    const { container, prefix } = location;
    if (!prefix.endsWith('/') || prefix.length < 2) {
      throw new InvalidBackupError(`refusing to delete ${container}/${prefix}: a backup prefix ends with "/"`);
    }
    await this.driver.deleteObject(container, prefix + METADATA_OBJECT, { signal });
    let objectsDeleted = 0;
    const window = new TaskWindow(this.concurrency * 2);
    for await (const key of this.driver.listObjects(container, prefix, { signal })) {
      throwIfAborted(signal, `delete of ${container}/${prefix}`);
      await window.add(async () => {
        await this.driver.deleteObject(container, key, { signal });
        objectsDeleted += 1;
      });
    }
    await window.drain();
    return { objectsDeleted };
  }
}

/** What an incremental reads of its parent's digest table. */
interface ParentDigests {
  readonly backupId: string;
  /** The parent's digests of blocks `[first, first + count)`; shorter when the volume grew past the parent's end. */
  digestsOf(first: number, count: number): Promise<Buffer>;
  /** True when the parent recorded all of `[first, first + count)`, all zero. */
  allZero(first: number, count: number): Promise<boolean>;
}

/** The blocks of a hole chunk that the parent had as data (or did not have at all): they changed to zero. */
function changedToZero(geometry: BlockGeometry, firstBlock: number, chunkBlocks: number, parentSlice: Buffer): BlockRun[] {
  const zeros = geometry.zeroDigests(firstBlock, chunkBlocks);
  const parentBlocks = parentSlice.length / DIGEST_BYTES;
  const runs: BlockRun[] = [];
  for (let i = 0; i < chunkBlocks; i += 1) {
    const at = i * DIGEST_BYTES;
    if (i < parentBlocks && parentSlice.compare(zeros, at, at + DIGEST_BYTES, at, at + DIGEST_BYTES) === 0) continue;
    appendToRuns(runs, firstBlock + i);
  }
  return runs;
}

/** Chunks whose extents are asked for at once: a thin volume is mostly holes, one query covers 32 of them. */
const EXTENT_WINDOW_CHUNKS = 32;

/**
 * The source's data extents, asked for `windowBytes` at a time and handed out chunk by chunk (chunks come in volume
 * order). `undefined` for a chunk when the source cannot tell.
 */
function windowedExtents(source: VolumeSource, windowBytes: number): (offset: number, length: number) => Promise<Extent[] | undefined> {
  let window: { start: number; end: number; extents: Extent[] | undefined; next: number } | undefined;
  return async (offset, length) => {
    if (source.dataExtents === undefined) return undefined;
    const stop = offset + length;
    if (window === undefined || offset < window.start || stop > window.end) {
      const end = Math.min(source.size, offset + Math.max(windowBytes, length));
      window = { start: offset, end, extents: await source.dataExtents(offset, end - offset), next: 0 };
    }
    const { extents } = window;
    if (extents === undefined) return undefined;
    while (window.next < extents.length && extents[window.next]![1] <= offset) window.next += 1;
    const part: Extent[] = [];
    for (let i = window.next; i < extents.length && extents[i]![0] < stop; i += 1) {
      part.push([Math.max(extents[i]![0], offset), Math.min(extents[i]![1], stop)]);
    }
    return part;
  };
}

/**
 * Fill `buffer` with the volume's bytes at `offset`: only the data extents are read (whole blocks of a hole are
 * flagged in `holes`, see `markHole`), or everything when the extents are unknown. Returns the bytes the volume had
 * there (short only at its end).
 */
async function readExtents(
  source: VolumeSource,
  buffer: Buffer,
  offset: number,
  extents: readonly Extent[] | undefined,
  holes: Uint8Array | undefined,
  blockSize: number,
): Promise<number> {
  if (extents === undefined || holes === undefined) return source.read(buffer, offset);
  let cursor = 0;
  for (const [start, end] of extents) {
    markHole(buffer, cursor, start - offset, holes, blockSize);
    const read = await source.read(buffer.subarray(start - offset, end - offset), start);
    if (read !== end - start) return start - offset + read;
    cursor = end - offset;
  }
  markHole(buffer, cursor, buffer.length, holes, blockSize);
  return buffer.length;
}

/**
 * Bytes `[from, to)` of the chunk are a hole. Whole blocks in it are flagged in `holes` and left as they are
 * (clearing megabytes of a mostly empty chunk was a quarter of a sparse backup's main-thread time); the parts
 * of blocks that also hold data are cleared, since those blocks are hashed.
 */
function markHole(buffer: Buffer, from: number, to: number, holes: Uint8Array, blockSize: number): void {
  if (from >= to) return;
  const firstWhole = Math.ceil(from / blockSize) * blockSize;
  // Rounded down: a short last block (the volume's end) is cleared rather than flagged.
  const endWhole = Math.floor(to / blockSize) * blockSize;
  if (firstWhole >= endWhole) {
    buffer.fill(0, from, to);
    return;
  }
  buffer.fill(0, from, firstWhole);
  holes.fill(1, firstWhole / blockSize, endWhole / blockSize);
  buffer.fill(0, endWhole, to);
}
