import { execFile } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { generateVolumeFile, mutateVolumeFile, sha256File } from '@stowage/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const GiB = 1024 * 1024 * 1024;
const child = new URL('./fixtures/engine-child.mjs', import.meta.url).pathname;

interface ChildReport {
  storedBytes?: number;
  changedBytes?: number;
  bytesWritten?: number;
  seconds: number;
  maxRssMiB: number;
}

async function engineStep(...args: string[]): Promise<ChildReport> {
  const { stdout } = await run(process.execPath, [child, ...args], { maxBuffer: 1 << 20 });
  return JSON.parse(stdout) as ChildReport;
}

/**
 * The foundation's acceptance: a 1 GiB volume (40% random, 30% zeros, 30% text-like, 4 MiB runs) round-trips
 * byte-identical through posix, a 1% change costs < 3% of the full backup, and every engine process stays
 * under 300 MiB peak RSS. Each step runs in its own process so its RSS is its own.
 */
describe('1 GiB volume on posix', { timeout: 300_000 }, () => {
  let dir = '';
  const report: Record<string, ChildReport> = {};
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'stowage-posix-large-'));
  });
  afterAll(async () => {
    console.log('1 GiB round trip (posix):', JSON.stringify(report, null, 1));
    await rm(dir, { recursive: true, force: true });
  });

  it('backs up, restores, takes a 1% incremental and restores the chain, byte-identical and bounded in memory', async () => {
    const volume = join(dir, 'volume');
    const root = join(dir, 'store');
    await generateVolumeFile(volume, { size: GiB, seed: 'foundation-1gib' });
    const originalSha = await sha256File(volume);

    report.full = await engineStep('backup', root, volume, 'vol-1', 'full-1');
    report.restoreFull = await engineStep('restore', root, join(dir, 'restored-full'), 'vol-1', 'full-1');
    expect(await sha256File(join(dir, 'restored-full'))).toBe(originalSha);
    // Zero runs come back as holes: the restored file allocates well under its size.
    const restored = await stat(join(dir, 'restored-full'));
    expect(restored.blocks * 512).toBeLessThan(0.8 * GiB);
    await rm(join(dir, 'restored-full'));

    await mutateVolumeFile(volume, { fraction: 0.01, writeSize: 64 * 1024, seed: 'foundation-1gib' });
    const changedSha = await sha256File(volume);
    report.incremental = await engineStep('backup', root, volume, 'vol-1', 'incr-1', 'full-1');
    expect(report.incremental.storedBytes!).toBeLessThan(0.03 * report.full.storedBytes!);

    report.restoreChain = await engineStep('restore', root, join(dir, 'restored-chain'), 'vol-1', 'incr-1');
    expect(await sha256File(join(dir, 'restored-chain'))).toBe(changedSha);

    for (const [step, figures] of Object.entries(report)) {
      expect(figures.maxRssMiB, `${step} peak RSS`).toBeLessThan(300);
    }
  });
});
