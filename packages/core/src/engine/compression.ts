import { createRequire } from 'node:module';
import { deflateSync, inflateSync } from 'node:zlib';

type ZstdBinding = typeof import('zstd-napi/binding.js');
// The low-level binding compresses into caller-owned buffers: the engine reuses a fixed set of buffers and
// produces no per-chunk garbage, which keeps memory flat whatever the volume size.
const zstd = createRequire(import.meta.url)('zstd-napi/binding.js') as ZstdBinding;

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

// One context per thread (each worker thread loads its own copy of this module).
let compressionContext: InstanceType<ZstdBinding['CCtx']> | undefined;
let decompressionContext: InstanceType<ZstdBinding['DCtx']> | undefined;

/**
 * Compress `raw` into `out`. Returns the compressed length, or -1 when compressing does not make the data
 * smaller (the caller stores it as is: decompressing incompressible data on restore would be pure cost).
 */
export function compressInto(raw: Uint8Array, out: Uint8Array, settings: CompressionSettings): number {
  const room = Math.min(out.length, raw.length - 1);
  if (room <= 0) return -1;
  switch (settings.algorithm) {
    case 'none':
      return -1;
    case 'zstd':
      compressionContext ??= new zstd.CCtx();
      try {
        return compressionContext.compress(out.subarray(0, room), raw, settings.level ?? 1);
      } catch (error) {
        if (/too small/i.test((error as Error).message)) return -1;
        throw error;
      }
    case 'zlib': {
      const compressed = deflateSync(raw, { level: settings.level ?? 6 });
      if (compressed.length > room) return -1;
      out.set(compressed);
      return compressed.length;
    }
  }
}

/** Decompress `stored` into `out`; returns the decompressed length. Throws on corrupt or oversized data. */
export function decompressInto(stored: Uint8Array, out: Uint8Array, algorithm: CompressionAlgorithm): number {
  switch (algorithm) {
    case 'none':
      out.set(stored);
      return stored.length;
    case 'zstd':
      decompressionContext ??= new zstd.DCtx();
      return decompressionContext.decompress(out, stored);
    case 'zlib': {
      const raw = inflateSync(stored, { maxOutputLength: out.length });
      out.set(raw);
      return raw.length;
    }
  }
}
