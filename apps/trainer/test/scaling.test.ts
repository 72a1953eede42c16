import { syntheticImageSet } from '@convoy/worker';
import { modelSpecFor } from '@convoy/run';
import { measureScaling, scalingChartSvg, scalingTable, threadLadder } from '../src/scaling';

describe('scaling', () => {
  it('measures powers of two up to the maximum', () => {
    expect(threadLadder(1)).toEqual([1]);
    expect(threadLadder(2)).toEqual([1, 2]);
    expect(threadLadder(4)).toEqual([1, 2, 4]);
    expect(threadLadder(6)).toEqual([1, 2, 4, 6]);
  });

  it('reports images/s, speed-up, efficiency and the all-reduce share per thread count', async () => {
    const seen: number[] = [];
    const results = await measureScaling({
      threadCounts: [1, 2],
      batchSize: 16,
      modelSpec: modelSpecFor({ width: 4 }),
      backend: 'auto',
      steps: 2,
      warmupSteps: 1,
      rounds: 3,
      train: syntheticImageSet({ count: 48 }),
      seed: 1,
      augment: true,
      onResult: (r) => seen.push(r.threads),
    });
    expect(seen).toEqual([1, 2]);
    expect(results.map((r) => r.threads)).toEqual([1, 2]);
    expect(results[0].speedup).toBe(1);
    expect(results[0].efficiency).toBe(1);
    for (const r of results) {
      expect(r.imagesPerSecond).toBeGreaterThan(0);
      expect(r.stepSeconds).toBeCloseTo(16 / r.imagesPerSecond, 6);
      expect(r.allReduceShare).toBeGreaterThan(0);
      expect(r.allReduceShare).toBeLessThan(1);
    }
    expect(results[1].speedup).toBeCloseTo(results[1].imagesPerSecond / results[0].imagesPerSecond, 10);
    expect(results[1].efficiency).toBeCloseTo(results[1].speedup / 2, 10);

    const table = scalingTable(results).split('\n');
    expect(table[0]).toMatch(/threads +images\/s +speed-up +efficiency +step ms +all-reduce share/);
    expect(table).toHaveLength(4);
    const svg = scalingChartSvg(results, 'title <&>');
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg).toContain('title &lt;&amp;&gt;');
    expect((svg.match(/<polyline /g) ?? []).length).toBe(2);
  });
});
