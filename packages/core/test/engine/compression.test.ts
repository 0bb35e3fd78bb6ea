import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { looksIncompressible } from '../../src/engine/compression.js';

const MiB = 1024 * 1024;
const zstd = { algorithm: 'zstd' } as const;
const text = (length: number) => Buffer.from('the quick brown fox jumps over the lazy dog; '.repeat(Math.ceil(length / 45))).subarray(0, length);

describe('the incompressibility estimate', () => {
  it('skips random data and keeps text', () => {
    expect(looksIncompressible(randomBytes(8 * MiB), zstd)).toBe(true);
    expect(looksIncompressible(text(8 * MiB), zstd)).toBe(false);
  });

  it('compresses a payload that is compressible in any sampled region (here its second half)', () => {
    expect(looksIncompressible(Buffer.concat([randomBytes(4 * MiB), text(4 * MiB)]), zstd)).toBe(false);
    expect(looksIncompressible(Buffer.concat([text(MiB), randomBytes(7 * MiB)]), zstd)).toBe(false);
  });

  it('does not estimate small payloads or when compression is off', () => {
    expect(looksIncompressible(randomBytes(128 * 1024), zstd)).toBe(false);
    expect(looksIncompressible(randomBytes(MiB), { algorithm: 'none' })).toBe(false);
  });
});
