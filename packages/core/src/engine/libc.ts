/**
 * The two libc calls Node does not offer, through koffi: `lseek` (SEEK_DATA/SEEK_HOLE, for sparse reads) and
 * `posix_fadvise` (dropping a restored volume's pages from the cache). `null` where the binding cannot load (not
 * Linux, no prebuilt koffi, no glibc): callers then do without, which is always correct.
 */
import { createRequire } from 'node:module';

export interface Libc {
  lseek(fd: number, offset: number, whence: number): number | bigint;
  /** Runs on a libuv thread (koffi's async call): dropping many pages takes the kernel a while. */
  posix_fadvise(fd: number, offset: number, length: number, advice: number): Promise<number>;
  errno(): number;
}

type AsyncCall = { async(...args: [...number[], (error: unknown, result: number) => void]): void };

let libc: Libc | null | undefined;

export function loadLibc(): Libc | null {
  if (libc !== undefined) return libc;
  libc = null;
  if (process.platform !== 'linux') return libc;
  try {
    const koffi = createRequire(import.meta.url)('koffi') as {
      load(name: string): { func(signature: string): ((...args: number[]) => number | bigint) & AsyncCall };
      errno(): number;
    };
    const library = koffi.load('libc.so.6');
    const fadvise = library.func('int posix_fadvise(int fd, int64_t offset, int64_t len, int advice)');
    libc = {
      lseek: library.func('int64_t lseek(int fd, int64_t offset, int whence)'),
      posix_fadvise: (fd, offset, length, advice) =>
        new Promise((resolve, reject) => fadvise.async(fd, offset, length, advice, (error, result) => (error ? reject(error) : resolve(Number(result))))),
      errno: () => koffi.errno(),
    };
  } catch {
    // No binding: sparse files are read whole and written pages stay cached.
  }
  return libc;
}

const POSIX_FADV_DONTNEED = 4;

/**
 * Drop `fd`'s clean cached pages (call it after a sync): a restored volume is read by its VM, not through this
 * host's page cache, and pages freed at once are reused by the next writes instead of fresh memory being
 * faulted in (about 3 CPU-seconds per GiB on a VM that hands free memory back to its host). borg does the same.
 */
export async function dropCachedPages(fd: number): Promise<void> {
  await loadLibc()?.posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
}
