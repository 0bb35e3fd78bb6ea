/**
 * `posix_fadvise(DONTNEED)` through koffi (Node has none), called once an object is fsynced or read into the
 * engine's buffer. A backup's objects are written once and read rarely: keeping them cached only evicts what the
 * host's other work uses, and pages freed at once are reused by the next object instead of fresh memory (about 3
 * CPU-seconds per GiB written on a VM that hands free memory back to its host; 0.3 with the drop). borg drops its
 * segments the same way. Without the binding (not Linux, no prebuilt koffi) pages simply stay cached.
 */
import { createRequire } from 'node:module';

const POSIX_FADV_DONTNEED = 4;

type Fadvise = ((fd: number, offset: number, length: number, advice: number) => number) & {
  /** koffi's asynchronous form: runs on a libuv thread, not the event loop. */
  async(fd: number, offset: number, length: number, advice: number, done: (error: unknown, result: number) => void): void;
};
let fadvise: Fadvise | null | undefined;

function load(): Fadvise | null {
  if (fadvise !== undefined) return fadvise;
  fadvise = null;
  if (process.platform !== 'linux') return fadvise;
  try {
    const koffi = createRequire(import.meta.url)('koffi') as { load(name: string): { func(signature: string): Fadvise } };
    fadvise = koffi.load('libc.so.6').func('int posix_fadvise(int fd, int64_t offset, int64_t len, int advice)');
  } catch {
    // Caching is only a cost, never a correctness matter.
  }
  return fadvise;
}

/**
 * Drop the clean cached pages of an open file (after its fsync, or after reading it whole). Freeing megabytes of
 * pages takes the kernel a while: it runs on a libuv thread, and the caller closes the file once it resolved.
 */
export function dropCachedPages(fd: number): Promise<void> {
  const call = load();
  if (call === null) return Promise.resolve();
  return new Promise((resolve) => call.async(fd, 0, 0, POSIX_FADV_DONTNEED, () => resolve()));
}
