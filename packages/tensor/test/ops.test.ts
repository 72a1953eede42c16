import { add, argmaxRows, assertFinite, axpy, dot, mean, relativeError, scale, sub, sum, Tensor } from '../src';

describe('ops', () => {
  it('element-wise ops check shapes', () => {
    const a = Tensor.from([1, 2, 3, 4], [2, 2]);
    const b = Tensor.from([4, 3, 2, 1], [2, 2]);
    expect(Array.from(add(a, b).data)).toEqual([5, 5, 5, 5]);
    expect(Array.from(sub(a, b).data)).toEqual([-3, -1, 1, 3]);
    expect(Array.from(scale(a, 2).data)).toEqual([2, 4, 6, 8]);
    expect(() => add(a, Tensor.zeros([4]))).toThrow('add: shapes differ: [2, 2] vs [4]');
  });

  it('reductions', () => {
    const x = new Float32Array([1, 2, 3, 4]);
    expect(sum(x)).toBe(10);
    expect(mean(x)).toBe(2.5);
    expect(dot(x, x)).toBe(30);
    const y = new Float32Array(4);
    axpy(2, x, y);
    expect(Array.from(y)).toEqual([2, 4, 6, 8]);
    expect(relativeError([1, 2.001], [1, 2])).toBeCloseTo(0.0005, 6);
    expect(Array.from(argmaxRows(new Float32Array([0, 3, 3, 5, 1, 0]), 2, 3))).toEqual([1, 0]);
  });

  it('assertFinite names the position', () => {
    expect(() => assertFinite(new Float32Array([0, NaN]), 'input')).toThrow('input: element 1 is NaN');
    expect(() => assertFinite(new Float32Array([0, 1]), 'input')).not.toThrow();
  });
});
