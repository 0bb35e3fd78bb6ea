/** The structures that keep restore and backup memory independent of the volume size. */
import { describe, expect, it } from 'vitest';
import { BlockSourceMap, ZERO_SOURCE } from '../../src/engine/block-map.js';
import { BlockGeometry, DigestSegmentWriter } from '../../src/engine/digest-table.js';
import { DIGEST_BYTES, sha256, zeroDigest } from '../../src/engine/blocks.js';
import { decompressInto } from '../../src/engine/compression.js';

describe('BlockSourceMap', () => {
  it('gives each block the newest member that recorded it', () => {
    const map = new BlockSourceMap(100);
    map.addMember([[10, 20, 7]]); // newest: an incremental changed 10-19
    map.addMember([[0, 50, 3], [50, 100, ZERO_SOURCE]]); // its parent
    expect(map.intervals()).toEqual([[0, 10, 3], [10, 20, 7], [20, 50, 3], [50, 100, ZERO_SOURCE]]);
    expect(map.firstGap()).toBeUndefined();
  });

  it('fills only the gaps newer members left, across many intervals', () => {
    const map = new BlockSourceMap(40);
    map.addMember([[5, 10, 1], [20, 25, 2]]);
    map.addMember([[0, 40, 0]]);
    expect(map.intervals()).toEqual([[0, 5, 0], [5, 10, 1], [10, 20, 0], [20, 25, 2], [25, 40, 0]]);
  });

  it('names the first block no member holds, and clips runs past the volume', () => {
    const map = new BlockSourceMap(30);
    map.addMember([[0, 10, 0], [12, 99, 1]]);
    expect(map.firstGap()).toBe(10);
    expect(map.intervals().at(-1)).toEqual([12, 30, 1]);
    const empty = new BlockSourceMap(5);
    expect(empty.firstGap()).toBe(0);
  });

  it('lets the first of a damaged member\'s overlapping intervals keep its blocks', () => {
    const map = new BlockSourceMap(20);
    map.addMember([[0, 15, 4], [10, 20, 5]]);
    expect(map.intervals()).toEqual([[0, 15, 4], [15, 20, 5]]);
  });
});

describe('DigestSegmentWriter', () => {
  const geometry = new BlockGeometry(10 * 4096 + 100, 4096, 4); // 11 blocks, the last 100 bytes; segments of 4
  it('completes segments in any order and stores none for all-zero ones', () => {
    const writer = new DigestSegmentWriter(geometry, 'b');
    const data = sha256(Buffer.from('x'));
    const digests = Buffer.concat([data, data]);
    expect(writer.record(2, 2, digests)).toEqual([]); // segment 0 half known
    expect(writer.record(4, 4, null)).toEqual([{ index: 1, bytes: null }]);
    const [first] = writer.record(0, 2, null);
    expect(first!.index).toBe(0);
    // Three of its four digests are the zero-block one: compressed.
    expect(first!.compression).toBe('zstd');
    const plain = Buffer.alloc(4096);
    const bytes = plain.subarray(0, decompressInto(first!.bytes!, plain, 'zstd'));
    const stored = bytes.subarray(bytes.indexOf(0x0a) + 1);
    expect(stored.subarray(0, DIGEST_BYTES)).toEqual(zeroDigest(4096));
    expect(stored.subarray(2 * DIGEST_BYTES, 3 * DIGEST_BYTES)).toEqual(data);
    // The volume's short last block has its own zero digest, so a zero tail is still recognised as zero.
    expect(writer.record(8, 3, geometry.zeroDigests(8, 3))).toEqual([{ index: 2, bytes: null }]);
    expect(geometry.zeroDigests(8, 3).subarray(2 * DIGEST_BYTES)).toEqual(zeroDigest(100));
  });
});
