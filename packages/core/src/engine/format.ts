/**
 * The on-storage format `stowage.backup/v2`, and v1 which it still reads (documented in docs/format.md).
 *
 * A backup is the objects under one prefix:
 *   <prefix>chunk-000001 ...   payloads: the changed, non-zero blocks of one chunk region, concatenated, compressed
 *   <prefix>sha256-000000 ...  v2: the sha256 of every block, one object per segment of blocks that are not all zero
 *   <prefix>sha256              v1: the sha256 of every block of the volume in one object
 *   <prefix>metadata            JSON describing everything, written last: a backup without it is incomplete
 */
import { InvalidBackupError } from '@stowage/driver-contract';
import { COMPRESSION_ALGORITHMS, type CompressionAlgorithm } from './compression.js';
import { DIGEST_BYTES, type BlockRun } from './blocks.js';
import type { DigestSegmentRecord } from './digest-table.js';
import { BACKUP_FORMAT_V3_ENCRYPTED, ENCRYPTION_ALGORITHM } from './object-crypto.js';

export const BACKUP_FORMAT_V1 = 'stowage.backup/v1';
export const BACKUP_FORMAT_V2 = 'stowage.backup/v2';
export { BACKUP_FORMAT_V3_ENCRYPTED };
/** v3-encrypted is v2 with every object sealed (object-crypto.ts): same layout, same digest segments. */
export type BackupFormat = typeof BACKUP_FORMAT_V1 | typeof BACKUP_FORMAT_V2 | typeof BACKUP_FORMAT_V3_ENCRYPTED;
export const SHA256_OBJECT_MAGIC = 'stowage.sha256/v1';

export const METADATA_OBJECT = 'metadata';
export const SHA256_OBJECT = 'sha256';

export function chunkObjectName(sequence: number): string {
  return `chunk-${String(sequence).padStart(6, '0')}`;
}

/** Where a backup's objects live. The default prefix keeps a volume's backups together, one folder each. */
export interface BackupLocation {
  readonly container: string;
  /** Ends with `/`. */
  readonly prefix: string;
}

export function defaultBackupPrefix(volumeId: string, backupId: string): string {
  return `volume_${volumeId}/backup_${backupId}/`;
}

export interface StoredObjectRecord {
  /** Key relative to the backup's prefix. */
  readonly name: string;
  readonly compression: CompressionAlgorithm;
  readonly storedLength: number;
  readonly rawLength: number;
  /** Hex sha256 of the stored (compressed) bytes, recorded when the driver verified the upload with it. */
  readonly sha256?: string | undefined;
  /** The blocks this object holds, in payload order. */
  readonly runs: BlockRun[];
}

export interface BackupMetadata {
  readonly format: BackupFormat;
  readonly backupId: string;
  readonly volumeId: string;
  /** The backup this one is an incremental of; null for a full backup. */
  readonly parent: (BackupLocation & { readonly backupId: string }) | null;
  readonly createdAt: string;
  readonly volumeSize: number;
  readonly blockSize: number;
  readonly chunkSize: number;
  readonly objects: StoredObjectRecord[];
  /** Blocks this backup records as all-zero (restored as holes). */
  readonly zeroRuns: BlockRun[];
  /** v1: the whole digest table in one object. */
  readonly sha256Object?: { readonly name: string; readonly length: number; readonly sha256: string } | undefined;
  /** v2: the digest table in segments; a segment not listed is all zero. */
  readonly digestSegments?: { readonly blocksPerSegment: number; readonly segments: readonly DigestSegmentRecord[] } | undefined;
  readonly stats: {
    /** Bytes of the volume this backup stored (changed, non-zero blocks, before compression). */
    readonly changedBytes: number;
    /** Bytes written to the storage: chunk objects plus the sha256 object (metadata excluded). */
    readonly storedBytes: number;
  };
  /** Opaque caller data (volume metadata, notes); not interpreted by the engine. */
  readonly extra: Record<string, unknown>;
  /** v3-encrypted: the data key every object of this backup is sealed with. */
  readonly encryption?: { readonly keyId: string; readonly algorithm: typeof ENCRYPTION_ALGORITHM } | undefined;
}

export function serializeMetadata(metadata: BackupMetadata): Buffer {
  return Buffer.from(JSON.stringify(metadata));
}

export function parseMetadata(bytes: Buffer, where: string): BackupMetadata {
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch (cause) {
    throw new InvalidBackupError(`backup metadata ${where} is not valid JSON`, { cause });
  }
  const metadata = value as Partial<BackupMetadata> | null;
  if (metadata === null || typeof metadata !== 'object') {
    throw new InvalidBackupError(`backup metadata ${where} is not an object`);
  }
  if (metadata.format !== BACKUP_FORMAT_V1 && metadata.format !== BACKUP_FORMAT_V2 && metadata.format !== BACKUP_FORMAT_V3_ENCRYPTED) {
    throw new InvalidBackupError(
      `backup metadata ${where} has format ${JSON.stringify(metadata.format)}; this version of Stowage reads ${BACKUP_FORMAT_V1}, ${BACKUP_FORMAT_V2} and ${BACKUP_FORMAT_V3_ENCRYPTED}`,
    );
  }
  const numbers = ['volumeSize', 'blockSize', 'chunkSize'] as const;
  for (const key of numbers) {
    if (!Number.isSafeInteger(metadata[key]) || (metadata[key] as number) < 0) {
      throw new InvalidBackupError(`backup metadata ${where}: field ${key} is missing or not a non-negative integer`);
    }
  }
  if (metadata.blockSize === 0 || metadata.chunkSize === 0) throw new InvalidBackupError(`backup metadata ${where}: blockSize and chunkSize must be positive`);
  if (!Array.isArray(metadata.objects) || !Array.isArray(metadata.zeroRuns)) {
    throw new InvalidBackupError(`backup metadata ${where}: objects or zeroRuns missing`);
  }
  if (metadata.format === BACKUP_FORMAT_V1 && metadata.sha256Object === undefined) {
    throw new InvalidBackupError(`backup metadata ${where}: sha256Object missing`);
  }
  if (metadata.format !== BACKUP_FORMAT_V1) checkDigestSegments(metadata, where);
  checkParentLink(metadata.parent, where);
  for (const record of metadata.objects) {
    if (!COMPRESSION_ALGORITHMS.includes(record.compression)) {
      throw new InvalidBackupError(
        `backup metadata ${where}: object ${record.name} uses unknown compression ${JSON.stringify(record.compression)}`,
      );
    }
  }
  return metadata as BackupMetadata;
}

function checkDigestSegments(metadata: Partial<BackupMetadata>, where: string): void {
  const table = metadata.digestSegments;
  const bad = (detail: string) => new InvalidBackupError(`backup metadata ${where}: digestSegments ${detail}`);
  if (typeof table !== 'object' || table === null) throw bad('missing');
  if (!Number.isSafeInteger(table.blocksPerSegment) || table.blocksPerSegment <= 0) throw bad('blocksPerSegment is not a positive integer');
  if (!Array.isArray(table.segments)) throw bad('segments is not a list');
  const segments = Math.ceil(blockCount(metadata.volumeSize!, metadata.blockSize!) / table.blocksPerSegment);
  let previous = -1;
  for (const record of table.segments) {
    const ok =
      Number.isSafeInteger(record?.index) &&
      record.index > previous &&
      record.index < segments &&
      typeof record.name === 'string' &&
      /^sha256-\d{6,}$/.test(record.name) &&
      Number.isSafeInteger(record.length) &&
      record.length > 0 &&
      typeof record.sha256 === 'string' &&
      (record.compression === undefined || record.compression === 'zstd');
    if (!ok) throw bad(`entry ${JSON.stringify(record)?.slice(0, 200)} is malformed, out of order or past the volume's ${segments} segments`);
    previous = record.index;
  }
}

function checkParentLink(parent: unknown, where: string): void {
  if (parent === null) return;
  const link = parent as { backupId?: unknown; container?: unknown; prefix?: unknown } | undefined;
  const optionalText = (value: unknown) => value === undefined || (typeof value === 'string' && value !== '');
  if (
    typeof link !== 'object' ||
    typeof link.backupId !== 'string' ||
    !optionalText(link.container) ||
    !optionalText(link.prefix) ||
    (typeof link.prefix === 'string' && !link.prefix.endsWith('/'))
  ) {
    throw new InvalidBackupError(`backup metadata ${where}: parent must be null or { backupId, container, prefix ending with "/" }`);
  }
}

/**
 * Where the parent of the backup at `location` lives (null for a full backup). Every v1 writer records the
 * parent's own container and prefix; a link without them (hand-made or foreign metadata) is read as the
 * parent in the child's container under the default prefix, which is where an older writer would have put it.
 */
export function parentLocation(metadata: BackupMetadata, location: BackupLocation): BackupLocation | null {
  const parent = metadata.parent as Partial<BackupLocation> & { readonly backupId: string } | null;
  if (parent === null) return null;
  return {
    container: parent.container ?? location.container,
    prefix: parent.prefix ?? defaultBackupPrefix(metadata.volumeId, parent.backupId),
  };
}

/**
 * The sha256 object: a one-line JSON header, a newline, then one 32-byte digest per block.
 * Binary digests are half the size of Cinder's hex JSON list and need no parsing.
 */
export interface Sha256Header {
  readonly format: typeof SHA256_OBJECT_MAGIC;
  readonly backupId: string;
  readonly volumeSize: number;
  readonly blockSize: number;
  readonly blocks: number;
}

export function serializeSha256Object(header: Sha256Header, digests: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`${JSON.stringify(header)}\n`), digests]);
}

export function parseSha256Object(bytes: Buffer, where: string): { header: Sha256Header; digests: Buffer } {
  const newline = bytes.indexOf(0x0a);
  if (newline < 0) throw new InvalidBackupError(`sha256 object ${where} has no header line`);
  let header: Sha256Header;
  try {
    header = JSON.parse(bytes.subarray(0, newline).toString('utf8')) as Sha256Header;
  } catch (cause) {
    throw new InvalidBackupError(`sha256 object ${where} has an unreadable header`, { cause });
  }
  if (header.format !== SHA256_OBJECT_MAGIC) {
    throw new InvalidBackupError(`sha256 object ${where} has format ${JSON.stringify(header.format)}, expected ${SHA256_OBJECT_MAGIC}`);
  }
  const digests = bytes.subarray(newline + 1);
  if (digests.length !== header.blocks * DIGEST_BYTES) {
    throw new InvalidBackupError(
      `sha256 object ${where} holds ${digests.length / DIGEST_BYTES} digests, its header says ${header.blocks}`,
    );
  }
  return { header, digests };
}

export function blockCount(volumeSize: number, blockSize: number): number {
  return Math.ceil(volumeSize / blockSize);
}
