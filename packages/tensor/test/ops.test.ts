import { findNonFinite, relativeError } from '../src';

describe('ops', () => {
  it('relativeError is max |a - b| over max |b|, NaN-propagating, length-checked', () => {
    expect(relativeError([1, 2.001], [1, 2])).toBeCloseTo(0.0005, 6);
    expect(relativeError([0, 0], [0, 0])).toBe(0);
    expect(relativeError([Number.NaN], [1])).toBeNaN();
    expect(() => relativeError([1], [1, 2])).toThrow(/relativeError: .*length.*\b1\b.*\b2\b/);
  });

  it('findNonFinite gives the first NaN or infinity', () => {
    expect(findNonFinite(new Float32Array([0, 1, Number.NaN, Number.POSITIVE_INFINITY]))).toBe(2);
    expect(findNonFinite(new Float32Array([0, 1]))).toBe(-1);
    // Every position around the probe's blocks (1024) and its 4-wide steps, each non-finite kind.
    const x = new Float32Array(3 * 1024 + 7).map((_, i) => Math.sin(i) * 1e30);
    expect(findNonFinite(x)).toBe(-1);
    for (const at of [0, 1, 3, 4, 1023, 1024, 1025, 2047, 3071, 3072, 3 * 1024 + 6]) {
      for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
        const y = x.slice();
        y[at] = bad;
        if (at + 5 < y.length) y[at + 5] = Number.NaN;
        expect(findNonFinite(y)).toBe(at);
        expect(findNonFinite(Array.from(y))).toBe(at);
      }
    }
    expect(findNonFinite([])).toBe(-1);
  });
});
