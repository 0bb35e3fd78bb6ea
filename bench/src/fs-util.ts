import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';

/** Sum of the sizes of every regular file under `path` (apparent sizes: what a remote store would bill). */
export async function treeBytes(path: string): Promise<number> {
  const info = await lstat(path).catch(() => undefined);
  if (info === undefined) return 0;
  if (info.isFile()) return info.size;
  if (!info.isDirectory()) return 0;
  let total = 0;
  for (const entry of await readdir(path)) total += await treeBytes(join(path, entry));
  return total;
}

/** The single regular file under `directory` (peers restore into a tree that mirrors the source path). */
export async function onlyFileUnder(directory: string): Promise<string> {
  const found: string[] = [];
  const walk = async (path: string): Promise<void> => {
    for (const entry of await readdir(path, { withFileTypes: true })) {
      const child = join(path, entry.name);
      if (entry.isDirectory()) await walk(child);
      else if (entry.isFile()) found.push(child);
    }
  };
  await walk(directory);
  if (found.length !== 1) throw new Error(`expected one restored file under ${directory}, found ${found.length}`);
  return found[0]!;
}
