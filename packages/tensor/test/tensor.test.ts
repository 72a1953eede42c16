import { assertSameShape, assertShape, formatShape, shapeSize, Tensor } from '../src';

describe('Tensor', () => {
  it('allocates zeros with the right size and shape', () => {
    const t = Tensor.zeros([2, 3, 4, 5]);
    expect(t.size).toBe(120);
    expect(t.shape).toEqual([2, 3, 4, 5]);
    expect(t.data.every((v) => v === 0)).toBe(true);
  });

  it('wraps a Float32Array without copying and copies plain arrays', () => {
    const data = new Float32Array([1, 2, 3, 4, 5, 6]);
    const t = Tensor.from(data, [2, 3]);
    expect(t.data).toBe(data);
    expect(t.get(1, 2)).toBe(6);
    const u = Tensor.from([1, 2, 3], [3]);
    expect(Array.from(u.data)).toEqual([1, 2, 3]);
  });

  it('reshape is a view and infers one -1 dimension', () => {
    const t = Tensor.zeros([2, 3, 4]);
    const r = t.reshape([2, -1]);
    expect(r.shape).toEqual([2, 12]);
    r.data[5] = 7;
    expect(t.data[5]).toBe(7);
    expect(() => t.reshape([5, 5])).toThrow(/reshape: .*\[2, 3, 4\].*\b24\b.*\[5, 5\]/);
    expect(() => t.reshape([-1, -1])).toThrow(/reshape: .*-1.*\[-1, -1\]/);
  });

  it('rejects data of the wrong length and bad shapes', () => {
    expect(() => Tensor.from(new Float32Array(5), [2, 3])).toThrow(/\[2, 3\].*\b6\b.*\b5\b/);
    expect(() => Tensor.zeros([2, 1.5])).toThrow(/\[2, 1\.5\].*dimension 1\.5/);
    expect(() => Tensor.zeros([2, 3]).get(2, 0)).toThrow(/\[2, 3\].*index \[2, 0\].*out of bounds/);
  });

  it('clone copies', () => {
    const t = Tensor.from([1, 2], [2]);
    const c = t.clone();
    c.data[0] = 9;
    expect(t.data[0]).toBe(1);
  });
});

describe('shape assertions', () => {
  it('name both shapes', () => {
    expect(() => assertShape([32, 3, 3], [32, 3, 3, 3], 'conv1.weight')).toThrow(/^conv1\.weight: .*\[32, 3, 3, 3\].*\[32, 3, 3\]$/);
    expect(() => assertSameShape(Tensor.zeros([2, 3]), Tensor.zeros([3, 2]), 'add')).toThrow(/^add: .*\[2, 3\].*\[3, 2\]/);
  });

  it('-1 matches any batch size', () => {
    expect(() => assertShape([7, 3, 32, 32], [-1, 3, 32, 32], 'input')).not.toThrow();
    expect(() => assertShape([7, 1, 32, 32], [-1, 3, 32, 32], 'input')).toThrow(/^input: .*\[N, 3, 32, 32\].*\[7, 1, 32, 32\]/);
  });

  it('sizes and formats', () => {
    expect(shapeSize([])).toBe(1);
    expect(shapeSize([2, 0, 3])).toBe(0);
    expect(formatShape([1, 2])).toBe('[1, 2]');
  });
});
