import { mkdtemp, rm, stat, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateVolumeFile, mutateVolumeFile, sha256File } from '../src/volume-files.js';

const MiB = 1024 * 1024;
const dir = await mkdtemp(join(tmpdir(), 'stowage-testkit-'));
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('volume generator', () => {
  it('is deterministic for a seed and differs across seeds', async () => {
    const options = { size: 8 * MiB, runSize: MiB };
    await generateVolumeFile(join(dir, 'a'), { ...options, seed: 's1' });
    await generateVolumeFile(join(dir, 'b'), { ...options, seed: 's1' });
    await generateVolumeFile(join(dir, 'c'), { ...options, seed: 's2' });
    expect(await sha256File(join(dir, 'a'))).toBe(await sha256File(join(dir, 'b')));
    expect(await sha256File(join(dir, 'a'))).not.toBe(await sha256File(join(dir, 'c')));
  });

  it('follows the mix: zero runs are zero, text runs are printable, random runs are not', async () => {
    const path = join(dir, 'mix');
    const { kinds } = await generateVolumeFile(path, { size: 10 * MiB, runSize: MiB, seed: 'mix' });
    expect(kinds.filter((k) => k === 'random')).toHaveLength(4);
    expect(kinds.filter((k) => k === 'zero')).toHaveLength(3);
    expect((await stat(path)).size).toBe(10 * MiB);
    const bytes = await readFile(path);
    kinds.forEach((kind, run) => {
      const chunk = bytes.subarray(run * MiB, (run + 1) * MiB);
      const printable = chunk.every((b) => b === 0x0a || (b >= 0x20 && b < 0x7f));
      if (kind === 'zero') expect(chunk.every((b) => b === 0)).toBe(true);
      if (kind === 'text') expect(printable).toBe(true);
      if (kind === 'random') expect(printable).toBe(false);
    });
  });

  it('mutates about the requested share in aligned writes', async () => {
    const path = join(dir, 'mutate');
    await generateVolumeFile(path, { size: 16 * MiB, runSize: MiB, seed: 'm' });
    const before = await readFile(path);
    const offsets = await mutateVolumeFile(path, { fraction: 0.01, seed: 'm' });
    const after = await readFile(path);
    expect(offsets.length).toBe(Math.round((16 * MiB * 0.01) / 65536));
    expect(offsets.every((o) => o % 4096 === 0)).toBe(true);
    let changed = 0;
    for (let i = 0; i < before.length; i += 1) if (before[i] !== after[i]) changed += 1;
    expect(changed).toBeGreaterThan(0);
    expect(changed).toBeLessThanOrEqual(offsets.length * 65536);
  });
});
