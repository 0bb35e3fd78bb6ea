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

const SAMPLE_BYTES = 16 * 1024;
/** Below this a payload is compressed without an estimate: sampling would cost as much as compressing. */
const ESTIMATE_FROM_BYTES = 256 * 1024;
let sampleScratch: Uint8Array | undefined;

/**
 * A cheap early estimate: compress three 16 KiB samples (start, middle, end); when none shrinks by 3%, the whole
 * payload is taken as incompressible (random, encrypted or already compressed data) and not compressed at all.
 * Compressing random data with zstd-1 costs ~1 CPU-second per GiB for nothing; three samples cost 0.6% of that.
 * A payload with one compressible region among the samples is compressed as before.
 */
export function looksIncompressible(raw: Uint8Array, settings: CompressionSettings): boolean {
  if (settings.algorithm === 'none' || raw.length < ESTIMATE_FROM_BYTES) return false;
  sampleScratch ??= new Uint8Array(SAMPLE_BYTES);
  const starts = [0, Math.floor(raw.length / 2 / SAMPLE_BYTES) * SAMPLE_BYTES, raw.length - SAMPLE_BYTES];
  return starts.every((start) => {
    const length = compressInto(raw.subarray(start, start + SAMPLE_BYTES), sampleScratch!, settings);
    return length < 0 || length > SAMPLE_BYTES * 0.97;
  });
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
