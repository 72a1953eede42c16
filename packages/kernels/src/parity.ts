/**
 * The error metric every parity check against the reference uses (the kernels' test suites, the
 * native backend's start-up check): max |actual - expected| / max |expected| over the whole tensor.
 * A float32 sum of K terms carries rounding relative to the terms, not to each output (which can
 * cancel to ~0), so an element-wise relative error would fail correct kernels, and an absolute one
 * would pass wrong ones at small scales; the max-norm relative error does neither. Any NaN in the
 * difference makes it NaN, which fails every bound.
 */
export function relativeMaxError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  if (actual.length !== expected.length) throw new RangeError(`relativeMaxError: length ${actual.length} vs ${expected.length}`);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    const d = Math.abs(actual[i] - expected[i]);
    // NaN must fail, and Math.max(NaN, x) keeps NaN
    diff = Number.isNaN(d) ? NaN : Math.max(diff, d);
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  return diff / Math.max(scale, 1e-30);
}
