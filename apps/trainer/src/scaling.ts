import type { ImageSet } from '@convoy/data';
import { createGradientPool } from '@convoy/worker';
import { modelSpecFor, optimizerSpecFor, DEFAULT_RUN_CONFIG } from './config';
import { lineChartSvg } from './svgChart';

export interface ScalingOptions {
  /** Thread counts to measure, in order; the first is the speed-up baseline (normally 1). */
  threadCounts: number[];
  batchSize: number;
  width: number;
  backend: string;
  /** Timed steps per thread count, after `warmupSteps` untimed ones (threads build models, JIT warms up). */
  steps: number;
  warmupSteps: number;
  train: ImageSet;
  seed: number;
  augment: boolean;
  workerFile?: string;
  onResult?: (result: ScalingResult) => void;
}

export interface ScalingResult {
  threads: number;
  imagesPerSecond: number;
  speedup: number;
  efficiency: number;
  /** Mean wall seconds per step. */
  stepSeconds: number;
  /** Share of step time spent in the all-reduce (reduce-scatter) and optimizer step. */
  allReduceShare: number;
  backend: string;
}

/** Powers of two up to `max`, plus `max` itself: 1, 2, 4, ..., max. */
export function threadLadder(max: number): number[] {
  const ladder: number[] = [];
  for (let t = 1; t < max; t *= 2) ladder.push(t);
  ladder.push(max);
  return ladder;
}

/**
 * The same synchronous training step (the recipe network, SGD, one global batch) at each thread
 * count: images/s over the timed steps, speed-up over the first count, efficiency = speed-up /
 * threads, and the all-reduce's share of the step.
 */
export async function measureScaling(options: ScalingOptions): Promise<ScalingResult[]> {
  const results: ScalingResult[] = [];
  const count = options.train.count;
  if (count < options.batchSize) throw new RangeError(`scaling: --batch-size ${options.batchSize} is larger than the ${count} training images`);
  for (const threads of options.threadCounts) {
    const pool = await createGradientPool({
      threads,
      modelSpec: modelSpecFor({ width: options.width }),
      backend: options.backend,
      optimizer: optimizerSpecFor(DEFAULT_RUN_CONFIG),
      train: options.train,
      maxBatch: options.batchSize,
      seed: options.seed,
      workerFile: options.workerFile,
    });
    try {
      const [{ backend }] = await pool.describe();
      let total = 0;
      let allReduce = 0;
      for (let s = 0; s < options.warmupSteps + options.steps; s++) {
        // Consecutive batches of a fixed permutation: every thread count sees the same images.
        const start = (s * options.batchSize) % (count - options.batchSize + 1);
        const indices = Array.from({ length: options.batchSize }, (_, i) => start + i);
        const wall0 = performance.now();
        const r = await pool.trainStep({ indices, epoch: 0, seed: options.seed, augment: options.augment, step: { lr: 0.01, step: s + 1 } });
        const wall = (performance.now() - wall0) / 1000;
        if (s >= options.warmupSteps) {
          total += wall;
          allReduce += r.timings.allReduce;
        }
      }
      const imagesPerSecond = (options.steps * options.batchSize) / total;
      const base = results[0]?.imagesPerSecond ?? imagesPerSecond;
      const baseThreads = results[0]?.threads ?? threads;
      const speedup = imagesPerSecond / base;
      const result: ScalingResult = {
        threads,
        imagesPerSecond,
        speedup,
        efficiency: speedup / (threads / baseThreads),
        stepSeconds: total / options.steps,
        allReduceShare: allReduce / total,
        backend,
      };
      results.push(result);
      options.onResult?.(result);
    } finally {
      await pool.close();
    }
  }
  return results;
}

export function scalingTable(results: ScalingResult[]): string {
  const header = ['threads', 'images/s', 'speed-up', 'efficiency', 'step ms', 'all-reduce share'];
  const rows = results.map((r) => [
    String(r.threads),
    r.imagesPerSecond.toFixed(1),
    `${r.speedup.toFixed(2)}x`,
    `${(100 * r.efficiency).toFixed(1)}%`,
    (1000 * r.stepSeconds).toFixed(1),
    `${(100 * r.allReduceShare).toFixed(2)}%`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i])).join('  ');
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

export function scalingChartSvg(results: ScalingResult[], title: string): string {
  const base = results[0];
  return lineChartSvg({
    title,
    xLabel: 'worker threads',
    yLabel: 'training images / s',
    xTicks: results.map((r) => r.threads),
    series: [
      { name: 'measured', points: results.map((r) => [r.threads, r.imagesPerSecond]) },
      base ? { name: 'linear scaling', dashed: true, color: '#999', points: results.map((r) => [r.threads, (base.imagesPerSecond * r.threads) / base.threads]) } : { name: 'linear scaling', points: [] },
    ],
  });
}
