/**
 * Where a file holds data: `lseek(SEEK_DATA/SEEK_HOLE)` through koffi (Node has no lseek). A thin-provisioned
 * volume is mostly holes, and reading them costs as much as reading data; asking the filesystem costs a
 * microsecond per extent. Without the binding, or on a file (or block device) whose filesystem cannot say,
 * callers get `undefined` and read everything, which is always correct.
 */
import { createRequire } from 'node:module';

/** `[start, end)` byte ranges, ascending and disjoint. */
export type Extent = [start: number, end: number];

const SEEK_DATA = 3;
const SEEK_HOLE = 4;
/** No data at or after the offset (only holes up to the end of the file). */
const ENXIO = 6;

type Lseek = (fd: number, offset: number, whence: number) => number | bigint;

let binding: { lseek: Lseek; errno: () => number } | null | undefined;

function loadBinding(): typeof binding {
  if (binding !== undefined) return binding;
  binding = null;
  if (process.platform !== 'linux') return binding;
  try {
    const koffi = createRequire(import.meta.url)('koffi') as {
      load(name: string): { func(signature: string): Lseek };
      errno(): number;
    };
    const libc = koffi.load('libc.so.6');
    binding = { lseek: libc.func('int64_t lseek(int fd, int64_t offset, int whence)'), errno: () => koffi.errno() };
  } catch {
    // No prebuilt koffi for this platform, or no glibc: every byte is read instead.
  }
  return binding;
}

function seek(lib: NonNullable<typeof binding>, fd: number, offset: number, whence: number): number | 'end' | 'unsupported' {
  const result = Number(lib.lseek(fd, offset, whence));
  if (result >= 0) return result;
  return lib.errno() === ENXIO ? 'end' : 'unsupported';
}

/**
 * The data extents of `fd` within `[offset, offset + length)`, or `undefined` when the filesystem cannot tell
 * (EINVAL, a block device: read it all). The answer may include zeros (a filesystem may report a hole as data),
 * never the reverse.
 */
export function dataExtents(fd: number, offset: number, length: number): Extent[] | undefined {
  const lib = loadBinding();
  if (!lib) return undefined;
  const end = offset + length;
  const extents: Extent[] = [];
  let position = offset;
  while (position < end) {
    const data = seek(lib, fd, position, SEEK_DATA);
    if (data === 'unsupported') return undefined;
    if (data === 'end' || data >= end) break;
    const hole = seek(lib, fd, data, SEEK_HOLE);
    if (hole === 'unsupported') return undefined;
    // SEEK_HOLE always finds one (the end of the file counts as a hole); 'end' means the file shrank meanwhile.
    const stop = hole === 'end' ? end : Math.min(hole, end);
    extents.push([data, stop]);
    position = stop;
  }
  return extents;
}

/** True when this process can ask filesystems for extents (koffi loaded on Linux). */
export function sparseReadsAvailable(): boolean {
  return Boolean(loadBinding());
}
