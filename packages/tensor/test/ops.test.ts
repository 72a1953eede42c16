import { findNonFinite, relativeError } from '../src';

describe('ops', () => {
  it('relativeError is max |a - b| over max |b|, NaN-propagating, length-checked', () => {
    expect(relativeError([1, 2.001], [1, 2])).toBeCloseTo(0.0005, 6);
    expect(relativeError([0, 0], [0, 0])).toBe(0);
    expect(relativeError([Number.NaN], [1])).toBeNaN();
    expect(() => relativeError([1], [1, 2])).toThrow('relativeError: lengths differ: 1 vs 2');
  });

  it('findNonFinite gives the first NaN or infinity', () => {
    expect(findNonFinite(new Float32Array([0, 1, Number.NaN, Number.POSITIVE_INFINITY]))).toBe(2);
    expect(findNonFinite(new Float32Array([0, 1]))).toBe(-1);
  });
});
