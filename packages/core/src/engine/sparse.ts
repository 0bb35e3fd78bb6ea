/**
 * Where a file holds data: `lseek(SEEK_DATA/SEEK_HOLE)` through koffi (`libc.ts`; Node has no lseek). A thin-provisioned
 * volume is mostly holes, and reading them costs as much as reading data; asking the filesystem costs a
 * microsecond per extent. Without the binding, or on a file (or block device) whose filesystem cannot say,
 * callers get `undefined` and read everything, which is always correct.
 */
import { loadLibc, type Libc } from './libc.js';

/** `[start, end)` byte ranges, ascending and disjoint. */
export type Extent = [start: number, end: number];

const SEEK_DATA = 3;
const SEEK_HOLE = 4;
/** No data at or after the offset (only holes up to the end of the file). */
const ENXIO = 6;

function seek(lib: Libc, fd: number, offset: number, whence: number): number | 'end' | 'unsupported' {
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
  const lib = loadLibc();
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
  return Boolean(loadLibc());
}
