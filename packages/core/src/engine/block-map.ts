/**
 * Which chain member holds the newest copy of each block, as disjoint intervals rather than a table per block:
 * its size follows the backups' metadata (runs), never the volume (a 1 TiB volume was 128 MiB of table).
 */

/** The source of blocks recorded as zero (restored as holes). */
export const ZERO_SOURCE = -1;

/** `[first, end)` blocks and their source: an index into the chain's objects, or ZERO_SOURCE. */
export type SourcedInterval = [first: number, end: number, source: number];

export class BlockSourceMap {
  #intervals: SourcedInterval[] = [];

  constructor(readonly blocks: number) {}

  /**
   * Add one chain member's intervals (disjoint, any order). Members are added newest first: a block keeps the
   * source of the first member that recorded it.
   */
  addMember(intervals: readonly SourcedInterval[]): void {
    const sorted = intervals
      .map(([first, end, source]): SourcedInterval => [Math.max(0, first), Math.min(end, this.blocks), source])
      .filter(([first, end]) => first < end)
      .sort((a, b) => a[0] - b[0]);
    const covered = this.#intervals;
    const added: SourcedInterval[] = [];
    let j = 0;
    let memberEnd = 0;
    for (const [from, end, source] of sorted) {
      // A member's own intervals should not overlap; if a damaged one's do, the first keeps the blocks.
      const first = Math.max(from, memberEnd);
      if (first >= end) continue;
      memberEnd = end;
      while (j < covered.length && covered[j]![1] <= first) j += 1;
      let cursor = first;
      while (j < covered.length && covered[j]![0] < end) {
        const [coveredFirst, coveredEnd] = covered[j]!;
        if (coveredFirst > cursor) added.push([cursor, coveredFirst, source]);
        cursor = Math.max(cursor, coveredEnd);
        if (coveredEnd > end) break;
        j += 1;
      }
      if (cursor < end) added.push([cursor, end, source]);
    }
    this.#intervals = mergeSorted(covered, added);
  }

  /** The first block no member recorded, if any. */
  firstGap(): number | undefined {
    let next = 0;
    for (const [first, end] of this.#intervals) {
      if (first > next) return next;
      next = end;
    }
    return next < this.blocks ? next : undefined;
  }

  intervals(): readonly SourcedInterval[] {
    return this.#intervals;
  }
}

function mergeSorted(a: readonly SourcedInterval[], b: readonly SourcedInterval[]): SourcedInterval[] {
  const out: SourcedInterval[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    const next = j >= b.length || (i < a.length && a[i]![0] < b[j]![0]) ? a[i++]! : b[j++]!;
    const last = out[out.length - 1];
    // Adjacent intervals of the same source become one (a run split by nothing).
    if (last !== undefined && last[1] === next[0] && last[2] === next[2]) last[1] = next[1];
    else out.push([next[0], next[1], next[2]]);
  }
  return out;
}
