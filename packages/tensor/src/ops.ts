/** Checks on flat arrays that other packages share (nn's input checks, every parity test). */

function maxAbs(x: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < x.length; i++) {
    const v = Math.abs(x[i]);
    if (v > m || Number.isNaN(v)) m = v;
  }
  return m;
}

/** max |a - b| (NaN if either holds a NaN). */
function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new RangeError(`relativeError: lengths differ: ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (d > m || Number.isNaN(d)) m = d;
  }
  return m;
}

/** max |a - b| / max(max |b|, floor): a relative error robust to near-zero elements. */
export function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>, floor = 1e-12): number {
  return maxAbsDiff(actual, expected) / Math.max(maxAbs(expected), floor);
}

/** Elements per block of findNonFinite's branch-free probe. */
const PROBE_BLOCK = 1024;

/**
 * Index of the first NaN or infinity, or -1. Layers check every input with it, so it is a hot
 * loop: per block it sums x * 0 into four independent accumulators (0 for finite values, NaN as
 * soon as one is not) without a branch per element, and scans element by element only a block
 * whose sum is not 0 -- about twice as fast as testing each element.
 */
export function findNonFinite(x: ArrayLike<number>): number {
  const n = x.length;
  for (let start = 0; start < n; start += PROBE_BLOCK) {
    const end = Math.min(n, start + PROBE_BLOCK);
    let p0 = 0, p1 = 0, p2 = 0, p3 = 0;
    let i = start;
    for (; i + 4 <= end; i += 4) {
      p0 += x[i] * 0;
      p1 += x[i + 1] * 0;
      p2 += x[i + 2] * 0;
      p3 += x[i + 3] * 0;
    }
    for (; i < end; i++) p0 += x[i] * 0;
    if (p0 + p1 + p2 + p3 !== 0) {
      for (let j = start; j < end; j++) if (!Number.isFinite(x[j])) return j;
    }
  }
  return -1;
}
