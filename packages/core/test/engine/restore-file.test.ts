import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { openRestoreFile } from '../../src/engine/volume-io.js';

const run = promisify(execFile);
const MiB = 1024 * 1024;
const dir = await mkdtemp(join(tmpdir(), 'stowage-restore-file-'));
afterAll(() => rm(dir, { recursive: true, force: true }));

async function residentBytes(path: string): Promise<number> {
  const { stdout } = await run('fincore', ['--bytes', '--noheadings', '--output', 'RES', path]);
  return Number(stdout.trim());
}

describe.skipIf(process.platform !== 'linux')('a restored volume file', () => {
  it('holds what was written where it was written, and leaves the page cache once flushed', async () => {
    const path = join(dir, 'volume.img');
    const target = await openRestoreFile(path);
    await target.prepare(96 * MiB);
    // 80 MiB written out of order: more than one write-back window (64 MiB), which drops what it synced.
    const pieces = Array.from({ length: 10 }, () => randomBytes(8 * MiB));
    for (const at of [9, 0, 5, 1, 8, 2, 7, 3, 6, 4]) await target.write(pieces[at]!, at * 8 * MiB);
    await target.flush();
    await target.close();
    expect(await residentBytes(path)).toBeLessThan(MiB);
    const restored = await readFile(path);
    expect(restored.length).toBe(96 * MiB);
    expect(restored.subarray(0, 80 * MiB).equals(Buffer.concat(pieces))).toBe(true);
    expect(restored.subarray(80 * MiB).every((byte) => byte === 0)).toBe(true);
  });
});
