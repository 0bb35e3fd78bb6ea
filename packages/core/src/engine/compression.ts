import { compress as zstdCompress, decompress as zstdDecompress } from '@mongodb-js/zstd';
import { promisify } from 'node:util';
import { deflate, inflate } from 'node:zlib';

const deflateAsync = promisify(deflate);
const inflateAsync = promisify(inflate);

export const COMPRESSION_ALGORITHMS = ['none', 'zlib', 'zstd'] as const;
export type CompressionAlgorithm = (typeof COMPRESSION_ALGORITHMS)[number];

/** Cinder's accepted spellings, so a Cinder deployer's `backup_compression_algorithm` keeps working. */
const ALIASES: Record<string, CompressionAlgorithm> = {
  none: 'none',
  off: 'none',
  no: 'none',
  zlib: 'zlib',
  gzip: 'zlib',
  zstd: 'zstd',
};

export function parseCompressionAlgorithm(value: string): CompressionAlgorithm | undefined {
  return ALIASES[value.toLowerCase()];
}

export interface CompressionSettings {
  readonly algorithm: CompressionAlgorithm;
  /** zstd 1-19 (default 1), zlib 1-9 (default 6). */
  readonly level?: number | undefined;
}

/**
 * Compress `raw`. Both codecs run on libuv's thread pool, so several chunks compress in parallel while the
 * main thread reads and hashes the next one.
 */
export async function compressChunk(raw: Buffer, settings: CompressionSettings): Promise<Buffer> {
  switch (settings.algorithm) {
    case 'none':
      return raw;
    case 'zstd':
      return zstdCompress(raw, settings.level ?? 1);
    case 'zlib':
      return deflateAsync(raw, { level: settings.level ?? 6 });
  }
}

export async function decompressChunk(stored: Buffer, algorithm: CompressionAlgorithm): Promise<Buffer> {
  switch (algorithm) {
    case 'none':
      return stored;
    case 'zstd':
      return zstdDecompress(stored);
    case 'zlib':
      return inflateAsync(stored);
  }
}
