import { open } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';

const MiB = 1024 * 1024;
const SAMPLE = 256 * MiB;
const BLOCK = 32 * 1024;
const CHUNK = 8 * MiB;

type Settings = { readonly algorithm: 'zstd'; readonly level: number };
/** The codec entry points core has exported over time; the bench uses whichever this build has. */
interface CodecApi {
  compressInto?: (raw: Uint8Array, out: Uint8Array, settings: Settings) => number;
  decompressInto?: (stored: Uint8Array, out: Uint8Array, algorithm: 'zstd') => number;
  compressChunk?: (raw: Buffer, settings: Settings) => Promise<Buffer>;
  decompressChunk?: (stored: Buffer, algorithm: 'zstd') => Promise<Buffer>;
}

/**
 * Single-thread throughput (MiB/s) of the engine's building blocks on the volume's first 256 MiB, so a run's time
 * can be split into its parts: hashing, zero checks and zstd level 1, each on one core.
 */
export async function runMicro(volumePath: string): Promise<Record<string, unknown>> {
  const core = await import('@stowage/core');
  const codec = core as unknown as CodecApi;
  const handle = await open(volumePath, 'r');
  const { size } = await handle.stat();
  const sample = Buffer.allocUnsafe(Math.min(SAMPLE, size));
  await handle.read(sample, 0, sample.length, 0);
  await handle.close();
  const mib = sample.length / MiB;
  const rate = (seconds: number) => Math.round(mib / seconds);
  const time = async (body: () => unknown): Promise<number> => {
    const started = performance.now();
    await body();
    return (performance.now() - started) / 1000;
  };

  const sha256Blocks = await time(() => {
    for (let at = 0; at < sample.length; at += BLOCK) core.sha256(sample.subarray(at, at + BLOCK));
  });
  const zeroChecks = await time(() => {
    for (let at = 0; at < sample.length; at += BLOCK) core.isAllZero(sample.subarray(at, at + BLOCK));
  });
  const chunks: Buffer[] = [];
  for (let at = 0; at < sample.length; at += CHUNK) chunks.push(sample.subarray(at, at + CHUNK));
  const settings: Settings = { algorithm: 'zstd', level: 1 };
  const compressed: Buffer[] = [];
  let compress: number;
  let decompress: number;
  if (codec.compressInto !== undefined && codec.decompressInto !== undefined) {
    const { compressInto, decompressInto } = codec;
    const out = Buffer.allocUnsafe(CHUNK);
    compress = await time(() => {
      for (const chunk of chunks) {
        const length = compressInto(chunk, out, settings);
        compressed.push(length < 0 ? chunk : Buffer.from(out.subarray(0, length)));
      }
    });
    decompress = await time(() => {
      compressed.forEach((stored, index) => {
        if (stored !== chunks[index]) decompressInto(stored, out, 'zstd');
      });
    });
  } else if (codec.compressChunk !== undefined && codec.decompressChunk !== undefined) {
    const { compressChunk, decompressChunk } = codec;
    compress = await time(async () => {
      for (const chunk of chunks) compressed.push(await compressChunk(chunk, settings));
    });
    decompress = await time(async () => {
      for (const stored of compressed) await decompressChunk(stored, 'zstd');
    });
  } else {
    return { sample_mib: mib, sha256_32k_blocks_mib_s: rate(sha256Blocks), zero_check_mib_s: rate(zeroChecks), zstd: 'no codec API found in core' };
  }
  const storedBytes = compressed.reduce((sum, part) => sum + part.length, 0);
  return {
    sample_mib: mib,
    sha256_32k_blocks_mib_s: rate(sha256Blocks),
    zero_check_mib_s: rate(zeroChecks),
    zstd1_compress_mib_s: rate(compress),
    zstd1_decompress_mib_s: rate(decompress),
    zstd1_ratio_on_sample: Number((sample.length / storedBytes).toFixed(2)),
  };
}
