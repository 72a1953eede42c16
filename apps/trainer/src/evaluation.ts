import type { ImageSet, Normalization, TestStream } from '@convoy/data';
import type { ModelSpec, TtaMode } from '@convoy/nn';
import type { Cluster } from '@convoy/cluster';
import { createGradientPool, splitRange, type EvaluationResult, type GradientPool } from '@convoy/worker';

/**
 * The test set evaluated data-parallel, with `tta`'s test-time-augmented numbers beside the plain
 * ones unless it is 'none'; over several hosts each evaluates its part and the totals (the
 * augmented ones too) are summed in one all-reduce. With `stream`, the pool's test set is the
 * stream's window, and the (part of the) packed test split is evaluated through it window by window.
 */
export async function evaluateTestSet(pool: GradientPool, limit: number | undefined, cluster: Cluster | null, tta: TtaMode = 'none', stream: TestStream | null = null): Promise<EvaluationResult> {
  if (!cluster) return evaluatePart(pool, limit, undefined, stream, tta);
  const mine = await evaluatePart(pool, limit, { index: cluster.rank, of: cluster.size }, stream, tta);
  const totals = new Float32Array(new SharedArrayBuffer(5 * 4));
  totals.set([mine.lossSum, mine.correct, mine.count, mine.tta?.lossSum ?? 0, mine.tta?.correct ?? 0]);
  await cluster.allReduce(totals, 'the sum of the test-set evaluation over ranks');
  const [lossSum, correct, count, ttaLossSum, ttaCorrect] = totals;
  const augmented = tta === 'none' ? {} : { tta: { mode: tta, loss: ttaLossSum / count, lossSum: ttaLossSum, accuracy: ttaCorrect / count, correct: ttaCorrect } };
  return { loss: lossSum / count, lossSum, accuracy: correct / count, correct, count, seconds: mine.seconds, ...augmented };
}

/**
 * Part `part` of the test images (all of them without), from the pool's test set, or through a
 * stream's window: each window evaluated by the pool, the sums added in window order (the same
 * images as the whole set, so the same numbers up to float rounding).
 */
async function evaluatePart(pool: GradientPool, limit: number | undefined, part: { index: number; of: number } | undefined, stream: TestStream | null, tta: TtaMode): Promise<EvaluationResult> {
  if (!stream) return pool.evaluate('test', limit, part, tta);
  const t0 = performance.now();
  const range = part ? splitRange(stream.count, part.of)[part.index] : { start: 0, end: stream.count };
  const sums = { lossSum: 0, correct: 0, count: 0, ttaLossSum: 0, ttaCorrect: 0 };
  for await (const n of stream.windows(range.start, range.end)) {
    const r = await pool.evaluate('test', n, undefined, tta);
    sums.lossSum += r.lossSum;
    sums.correct += r.correct;
    sums.count += r.count;
    sums.ttaLossSum += r.tta?.lossSum ?? 0;
    sums.ttaCorrect += r.tta?.correct ?? 0;
  }
  const mean = (sum: number): number => (sums.count > 0 ? sum / sums.count : 0);
  return {
    loss: mean(sums.lossSum), lossSum: sums.lossSum, accuracy: mean(sums.correct), correct: sums.correct, count: sums.count, seconds: (performance.now() - t0) / 1000,
    ...(tta === 'none' ? {} : { tta: { mode: tta, loss: mean(sums.ttaLossSum), lossSum: sums.ttaLossSum, accuracy: mean(sums.ttaCorrect), correct: sums.ttaCorrect } }),
  };
}

/** Evaluates parameters on a set with a fresh pool (the `eval` command). */
export async function evaluateParameters(options: {
  params: Float32Array;
  /** The network's buffers (a checkpoint's: BatchNorm's running statistics, which eval mode normalises with); empty without BatchNorm. */
  buffers: Float32Array;
  /** The network the parameters belong to (a checkpoint's modelSpec). */
  modelSpec: ModelSpec;
  /** The normalisation the network was trained with; default CIFAR-10's. */
  normalization?: Normalization;
  /** The test set; with `testStream`, its window. */
  test: ImageSet;
  /** A packed test split read a window at a time into `test`. */
  testStream?: TestStream | null;
  threads: number;
  backend: string;
  limit?: number;
  workerFile?: string;
  /** Test-time augmentation measured beside the plain numbers (default 'none'). */
  tta?: TtaMode;
}): Promise<EvaluationResult & { backend: string }> {
  let pool: GradientPool | null = null;
  try {
    pool = await createGradientPool({
      threads: options.threads,
      modelSpec: options.modelSpec,
      normalization: options.normalization,
      backend: options.backend,
      train: options.test,
      test: options.test,
      maxBatch: 1,
      params: options.params,
      buffers: options.buffers,
      workerFile: options.workerFile,
    });
    const [first] = await pool.describe();
    return { ...(await evaluatePart(pool, options.limit, undefined, options.testStream ?? null, options.tta ?? 'none')), backend: first?.backend ?? options.backend };
  } finally {
    await pool?.close();
  }
}
