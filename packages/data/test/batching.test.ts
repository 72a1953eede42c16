import { batchCount, batchSlice, epochOrder, shardBounds } from '../src';

describe('epochOrder', () => {
  test('is a permutation, fixed by (count, seed, epoch), different across epochs and seeds', () => {
    const a = epochOrder(1000, 42, 0);
    expect(Array.from(a).sort((x, y) => x - y)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(Array.from(epochOrder(1000, 42, 0))).toEqual(Array.from(a));
    expect(Array.from(epochOrder(1000, 42, 1))).not.toEqual(Array.from(a));
    expect(Array.from(epochOrder(1000, 43, 0))).not.toEqual(Array.from(a));
    // Not the identity (a shuffle that does nothing would pass the checks above only by accident).
    expect(a.filter((v, i) => v === i).length).toBeLessThan(20);
  });

  test('handles 0 and 1 samples and rejects bad arguments', () => {
    expect(epochOrder(0, 1, 0).length).toBe(0);
    expect(Array.from(epochOrder(1, 1, 0))).toEqual([0]);
    expect(() => epochOrder(-1, 1, 0)).toThrow(/count must be an integer/);
    expect(() => epochOrder(10, 1, -1)).toThrow(/epoch a non-negative integer/);
  });
});

describe('batches and shards', () => {
  test('batchCount drops or keeps the last partial batch', () => {
    expect(batchCount(50_000, 128, 'drop')).toBe(390);
    expect(batchCount(50_000, 128, 'keep')).toBe(391);
    expect(batchCount(256, 128, 'drop')).toBe(2);
    expect(batchCount(256, 128, 'keep')).toBe(2);
    expect(() => batchCount(10, 0, 'drop')).toThrow(/batchSize must be a positive integer/);
  });

  test('batchSlice is a view, the last one short', () => {
    const order = epochOrder(10, 1, 0);
    const last = batchSlice(order, 2, 4);
    expect(Array.from(last)).toEqual(Array.from(order.subarray(8, 10)));
    expect(last.buffer).toBe(order.buffer);
    expect(() => batchSlice(order, 3, 4)).toThrow(/batch 3 is outside 0..2/);
  });

  test('shards cover the batch in order, sizes differ by at most one, extra samples go to the first shards', () => {
    for (const [size, workers] of [[128, 4], [130, 4], [3, 5], [1, 1], [0, 3]]) {
      const shards = Array.from({ length: workers }, (_, w) => shardBounds(size, workers, w));
      shards.forEach((s, w) => expect(s.start).toBe(w === 0 ? 0 : shards[w - 1].end));
      expect(shards[workers - 1].end).toBe(size);
      const sizes = shards.map((s) => s.end - s.start);
      expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
      expect(sizes).toEqual([...sizes].sort((x, y) => y - x));
    }
    expect([0, 1, 2, 3].map((w) => shardBounds(130, 4, w)).map((s) => s.end - s.start)).toEqual([33, 33, 32, 32]);
    expect(() => shardBounds(10, 2, 2)).toThrow(/worker 2 is outside 0..1/);
  });
});
