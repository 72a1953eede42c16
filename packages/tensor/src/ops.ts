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

/** Index of the first NaN or infinity, or -1. */
export function findNonFinite(x: ArrayLike<number>): number {
  for (let i = 0; i < x.length; i++) if (!Number.isFinite(x[i])) return i;
  return -1;
}
