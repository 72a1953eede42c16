import type { ImageSet } from '@convoy/data';
import type { Cluster } from '@convoy/cluster';
import { buildModel, ghostGroupSize, type ModelSpec } from '@convoy/nn';
import { constantLearningRate, createGradientPool, scheduledStep, splitBatch, type GradientPool } from '@convoy/worker';
import { optimizerSpecFor, DEFAULT_RUN_CONFIG } from '@convoy/run';
import { lineChartSvg } from './svgChart';

export interface ScalingOptions {
  /** Thread counts to measure, in order; the first is the speed-up baseline (normally 1). */
  threadCounts: number[];
  batchSize: number;
  /** The network whose training step is measured (the recipe's, or a model file's). */
  modelSpec: ModelSpec;
  backend: string;
  /** Timed steps per thread count, after `warmupSteps` untimed ones (threads build models, JIT warms up). */
  steps: number;
  warmupSteps: number;
  /** Interleaved rounds of `steps` steps per thread count; each figure is the median round. Default 1. */
  rounds?: number;
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
  /** Mean wall seconds per step (in the median round). */
  stepSeconds: number;
  /** Share of step time spent in the all-reduce (reduce) and optimizer step. */
  allReduceShare: number;
  backend: string;
}

/** The measured steps train at a fixed small learning rate: speed does not depend on it, and it keeps the loss finite. */
const MEASURED_LR = constantLearningRate(0.01);

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
 * (threads / first count), and the all-reduce's share of the step.
 *
 * All pools are built and warmed up first; then `rounds` rounds each time `steps` steps at every
 * thread count in turn, and each figure is the median over rounds. Interleaving keeps a change in
 * background load (a shared machine) from landing on one thread count only.
 */
export async function measureScaling(options: ScalingOptions): Promise<ScalingResult[]> {
  const count = options.train.count;
  const rounds = options.rounds ?? 1;
  if (count < options.batchSize) throw new RangeError(`scaling: --batch-size ${options.batchSize} is larger than the ${count} training images`);
  const pools: GradientPool[] = [];
  try {
    for (const threads of options.threadCounts) {
      pools.push(
        await createGradientPool({
          threads,
          modelSpec: options.modelSpec,
          backend: options.backend,
          optimizer: optimizerSpecFor(DEFAULT_RUN_CONFIG),
          train: options.train,
          maxBatch: options.batchSize,
          seed: options.seed,
          workerFile: options.workerFile,
        }),
      );
    }
    const backends = await Promise.all(pools.map(async (p) => (await p.describe())[0].backend));
    const stepCounters = pools.map(() => 0);
    // Consecutive batches of the training set: every thread count sees the same images.
    const runSteps = async (k: number, steps: number) => {
      let total = 0;
      let allReduce = 0;
      for (let s = 0; s < steps; s++) {
        const n = stepCounters[k]++;
        const start = (n * options.batchSize) % (count - options.batchSize + 1);
        const indices = Array.from({ length: options.batchSize }, (_, i) => start + i);
        const wall0 = performance.now();
        const r = await scheduledStep(pools[k], MEASURED_LR, { indices, epoch: 0, seed: options.seed, augment: options.augment, step: n });
        total += (performance.now() - wall0) / 1000;
        allReduce += r.timings.allReduce;
      }
      return { total, allReduce };
    };
    for (let k = 0; k < pools.length; k++) await runSteps(k, options.warmupSteps);
    const samples: Array<Array<{ total: number; allReduce: number }>> = pools.map(() => []);
    for (let round = 0; round < rounds; round++) {
      for (let k = 0; k < pools.length; k++) samples[k].push(await runSteps(k, options.steps));
    }
    const results: ScalingResult[] = [];
    options.threadCounts.forEach((threads, k) => {
      const sorted = samples[k].slice().sort((a, b) => a.total - b.total);
      const median = sorted[Math.floor((sorted.length - 1) / 2)];
      const imagesPerSecond = (options.steps * options.batchSize) / median.total;
      const base = results[0]?.imagesPerSecond ?? imagesPerSecond;
      const baseThreads = results[0]?.threads ?? threads;
      const speedup = imagesPerSecond / base;
      const result: ScalingResult = {
        threads,
        imagesPerSecond,
        speedup,
        efficiency: speedup / (threads / baseThreads),
        stepSeconds: median.total / options.steps,
        allReduceShare: median.allReduce / median.total,
        backend: backends[k],
      };
      results.push(result);
      options.onResult?.(result);
    });
    return results;
  } finally {
    await Promise.all(pools.map((p) => p.close()));
  }
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

/** The same step measured across ranks: one thread count per rank instead of a ladder. */
export interface RankScalingOptions extends Omit<ScalingOptions, 'threadCounts' | 'rounds' | 'onResult'> {
  cluster: Cluster;
  /** Threads per rank. */
  threads: number;
  rounds: number;
}

/** One multi-rank configuration measured: what rank 0 reports. */
export interface RankScalingResult {
  ranks: number;
  threadsPerRank: number;
  imagesPerSecond: number;
  stepSeconds: number;
  /** Share of the step in the all-reduce as a whole: the reduce on each host, the sum over hosts and the optimizer step. */
  allReduceShare: number;
  /** Share of the step spent waiting for the sum over hosts (MPI) alone. */
  crossHostShare: number;
  /** Each rank's place, in rank order ("rank 1/2 on host b"). */
  places: string[];
  backend: string;
}

/**
 * The training step on every rank of an MPI job (call it on all of them): the global batch split
 * over the ranks, one all-reduce over hosts per step. Same protocol as measureScaling: warm-up,
 * then `rounds` rounds of `steps` timed steps (all ranks step together), the median round.
 */
export async function measureAcrossRanks(options: RankScalingOptions): Promise<RankScalingResult> {
  const { cluster } = options;
  const count = options.train.count;
  if (count < options.batchSize) throw new RangeError(`scaling: --batch-size ${options.batchSize} is larger than the ${count} training images`);
  // Ranks take whole BatchNorm ghost groups of the global batch, as in training (runPlacement).
  const share = splitBatch(options.batchSize, cluster.size, ghostGroupSize(buildModel(options.modelSpec)))[cluster.rank];
  if (share.end <= share.start) throw new RangeError(`scaling: a global batch of ${options.batchSize} leaves rank ${cluster.rank} of ${cluster.size} no whole BatchNorm ghost group; raise --batch-size`);
  const pool = await createGradientPool({
    threads: options.threads,
    modelSpec: options.modelSpec,
    backend: options.backend,
    optimizer: optimizerSpecFor(DEFAULT_RUN_CONFIG),
    train: options.train,
    maxBatch: Math.max(1, share.end - share.start),
    maxGlobalBatch: options.batchSize,
    seed: options.seed,
    workerFile: options.workerFile,
    crossHost: cluster,
  });
  try {
    const backend = (await pool.describe())[0].backend;
    let n = 0;
    const runSteps = async (steps: number) => {
      let total = 0;
      let allReduce = 0;
      let crossHost = 0;
      for (let s = 0; s < steps; s++, n++) {
        const start = (n * options.batchSize) % (count - options.batchSize + 1);
        const indices = Array.from({ length: share.end - share.start }, (_, i) => start + share.start + i);
        const wall0 = performance.now();
        const r = await scheduledStep(pool, MEASURED_LR, { indices, globalBatch: options.batchSize, batchOffset: share.start, epoch: 0, seed: options.seed, augment: options.augment, step: n });
        total += (performance.now() - wall0) / 1000;
        allReduce += r.timings.allReduce;
        crossHost += r.timings.crossHost;
      }
      return { total, allReduce, crossHost };
    };
    await runSteps(options.warmupSteps);
    const samples = [];
    for (let round = 0; round < options.rounds; round++) {
      await cluster.barrier();
      samples.push(await runSteps(options.steps));
    }
    const median = samples.sort((a, b) => a.total - b.total)[Math.floor((samples.length - 1) / 2)];
    const places = (await cluster.allGather(Buffer.from(cluster.describe().padEnd(256)))).map((b) => Buffer.from(b).toString('utf8').trimEnd());
    return {
      ranks: cluster.size,
      threadsPerRank: options.threads,
      imagesPerSecond: (options.steps * options.batchSize) / median.total,
      stepSeconds: median.total / options.steps,
      allReduceShare: median.allReduce / median.total,
      crossHostShare: median.crossHost / median.total,
      places,
      backend,
    };
  } finally {
    await pool.close();
  }
}
