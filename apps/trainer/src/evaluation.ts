import type { ImageSet, Normalization } from '@convoy/data';
import type { ModelSpec, TtaMode } from '@convoy/nn';
import type { Cluster } from '@convoy/cluster';
import { createGradientPool, type EvaluationResult, type GradientPool } from '@convoy/worker';

/**
 * The test set evaluated data-parallel, with `tta`'s test-time-augmented numbers beside the plain
 * ones unless it is 'none'; over several hosts each evaluates its part and the totals (the
 * augmented ones too) are summed in one all-reduce.
 */
export async function evaluateTestSet(pool: GradientPool, limit: number | undefined, cluster: Cluster | null, tta: TtaMode = 'none'): Promise<EvaluationResult> {
  if (!cluster) return pool.evaluate('test', limit, undefined, tta);
  const mine = await pool.evaluate('test', limit, { index: cluster.rank, of: cluster.size }, tta);
  const totals = new Float32Array(new SharedArrayBuffer(5 * 4));
  totals.set([mine.lossSum, mine.correct, mine.count, mine.tta?.lossSum ?? 0, mine.tta?.correct ?? 0]);
  await cluster.allReduce(totals, 'the sum of the test-set evaluation over ranks');
  const [lossSum, correct, count, ttaLossSum, ttaCorrect] = totals;
  const augmented = tta === 'none' ? {} : { tta: { mode: tta, loss: ttaLossSum / count, lossSum: ttaLossSum, accuracy: ttaCorrect / count, correct: ttaCorrect } };
  return { loss: lossSum / count, lossSum, accuracy: correct / count, correct, count, seconds: mine.seconds, ...augmented };
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
  test: ImageSet;
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
    return { ...(await pool.evaluate('test', options.limit, undefined, options.tta ?? 'none')), backend: first?.backend ?? options.backend };
  } finally {
    await pool?.close();
  }
}
