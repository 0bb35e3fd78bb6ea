/** Write and hash file-backed volumes (sparse files) in tests. */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';

/** Write `length` random bytes at each offset. */
export async function writeRandom(path: string, offsets: readonly number[], length: number): Promise<void> {
  const file = await open(path, 'r+');
  try {
    for (const offset of offsets) await file.write(randomBytes(length), 0, length, offset);
  } finally {
    await file.close();
  }
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 4 * 1024 * 1024 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
