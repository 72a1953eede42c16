import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { batchCount, batchSlice, CIFAR10_NORMALIZATION, epochOrder, type ImageSet, type Normalization } from '@convoy/data';
import type { ModelSpec } from '@convoy/nn';
import {
  BEST_CHECKPOINT, cifar10ClassNamesFor, hyperparameterSchedules, LATEST_CHECKPOINT, modelSpecFor, optimizerSpecFor, type CheckpointState, type RunConfig,
} from '@convoy/run';
import { Rng } from '@convoy/tensor';
import type { Cluster } from '@convoy/cluster';
import { createGradientPool, splitRange, type EvaluationResult, type GradientPool } from '@convoy/worker';
import { saveCheckpoint } from './checkpoint';
import type { RuntimeConfig } from './config';
import { checkSameDataset, datasetFingerprint } from './datasetCheck';
import { MetricsLog } from './metricsLog';
import { NoProgress, type ProgressReporter } from './progress';

export interface TrainingOptions {
  config: RunConfig;
  runtime: RuntimeConfig;
  train: ImageSet;
  /** Evaluated after every epoch (data-parallel); null skips evaluation. */
  test: ImageSet | null;
  /** Names of the labels 0..k-1, recorded in checkpoints; default CIFAR-10's (narrowed by `config.classes`). */
  classNames?: readonly string[];
  /** Pixel normalisation for training and evaluation, recorded in checkpoints; default CIFAR-10's standard statistics. */
  normalization?: Normalization;
  /** Continue this checkpoint (already read and checked against `config`). */
  resume?: CheckpointState;
  reporter?: ProgressReporter;
  /** Aborting it (Ctrl-C) finishes the current step, saves a checkpoint and returns 'interrupted'. */
  signal?: AbortSignal;
  /** The built worker script, when it is not found next to @convoy/worker. */
  workerFile?: string;
  /**
   * This process's place in a multi-host (MPI) run. The global batch is split over the ranks (and
   * each rank's part over its threads); rank 0 alone reports progress, writes the log and
   * checkpoints; every rank evaluates its part of the test set.
   */
  cluster?: Cluster | null;
  /** Told where training is before each step ("step 7 (epoch 1, batch 7)"), e.g. for a message if the process is stopped. */
  onStep?: (where: string) => void;
}

export type TrainingStatus = 'completed' | 'max-steps' | 'interrupted';

export interface TrainingOutcome {
  status: TrainingStatus;
  /** Optimizer steps done in total. */
  step: number;
  epoch: number;
  stepInEpoch: number;
  params: Float32Array;
  /** The last test-set evaluation (null when none ran in this part of the run). */
  lastEvaluation: EvaluationResult | null;
  /** The checkpoint written last, if any. */
  checkpoint: string | null;
  backend: string;
  /** Wall seconds of this invocation's training steps. */
  trainSeconds: number;
}

/** Training stopped because the loss or the gradient became NaN/Inf; the message names the step. */
export class TrainingDivergedError extends Error {
  constructor(message: string, readonly step: number, readonly epoch: number) {
    super(message);
    this.name = 'TrainingDivergedError';
  }
}

/** A worker failed during a step; the message names the step, the worker task and the cause. */
export class TrainingStepError extends Error {
  constructor(message: string, readonly step: number, override readonly cause: unknown) {
    super(message);
    this.name = 'TrainingStepError';
  }
}

/**
 * The coordinator's loop (docs/ARCHITECTURE.md, "One synchronous data-parallel step"): for every batch of the
 * seeded epoch order, the pool computes the gradients of the batch shards, all-reduces them and steps
 * the optimizer; the lr (and one-cycle momentum) come from the schedule at the global step. After
 * each epoch: data-parallel test evaluation, a metrics line, a checkpoint. Everything random is a
 * function of (seed, epoch, sample), so a resumed run repeats exactly what an unbroken one does.
 */
export async function runTraining(options: TrainingOptions): Promise<TrainingOutcome> {
  const { config, runtime, train, test } = options;
  const cluster = options.cluster ?? null;
  const ranks = cluster?.size ?? 1;
  const rank = cluster?.rank ?? 0;
  const lead = rank === 0;
  const reporter = lead ? (options.reporter ?? new NoProgress()) : new NoProgress();
  const checkpointDir = lead ? runtime.checkpointDir : null;
  if (config.batchSize < ranks) {
    throw new RangeError(`--batch-size ${config.batchSize} is smaller than the ${ranks} ranks: every rank needs at least one sample per step; raise --batch-size`);
  }
  // This rank's part of every global batch: the same split whatever the data, so the sum over
  // ranks of the parts' gradients is the gradient of the whole batch.
  const share = splitRange(config.batchSize, ranks)[rank];
  const stepsPerEpoch = batchCount(train.count, config.batchSize, 'drop');
  if (stepsPerEpoch < 1) {
    throw new RangeError(
      `--batch-size ${config.batchSize} is larger than the training set (${train.count} images): no full batch to train on; lower --batch-size or raise --limit-train`,
    );
  }
  const schedules = hyperparameterSchedules(config, stepsPerEpoch);
  const log = new MetricsLog(lead ? (runtime.log ?? undefined) : undefined);
  const resume = options.resume;
  const rng = new Rng(config.seed);
  const classNames = [...(options.classNames ?? cifar10ClassNamesFor(config))];
  const normalization = options.normalization ?? CIFAR10_NORMALIZATION;
  const modelSpec = modelSpecFor(config, classNames.length);
  const pool = await createGradientPool({
    threads: runtime.threads,
    modelSpec,
    backend: runtime.backend,
    optimizer: optimizerSpecFor(config),
    train,
    test,
    normalization,
    maxBatch: share.end - share.start,
    workerFile: options.workerFile,
    ...(cluster ? { crossHost: cluster } : {}),
    ...(resume ? { params: resume.params, optimizerState: resume.optimizer.state } : { rng }),
  });
  const rngState = resume ? resume.rng.state : rng.getState();
  let step = resume?.step ?? 0;
  let epoch = resume?.epoch ?? 0;
  let stepInEpoch = resume?.stepInEpoch ?? 0;
  let lastEvaluation: EvaluationResult | null = null;
  let lastCheckpoint: string | null = null;
  let trainSeconds = 0;
  const startedAt = performance.now();
  const elapsed = () => (performance.now() - startedAt) / 1000;

  // The best epoch so far by test accuracy, carried in every checkpoint's summary so a resumed run keeps it.
  const resumedBest = resume?.summary.bestTestAccuracy;
  let best = typeof resumedBest === 'number' ? { bestTestAccuracy: resumedBest, bestEpoch: resume?.summary.bestEpoch } : null;
  const checkpoint = (summary: Record<string, unknown>, epochFile: boolean, isBest = false): string | null => {
    if (!checkpointDir) return null;
    mkdirSync(checkpointDir, { recursive: true });
    const state: CheckpointState = {
      config: { ...config },
      modelSpec,
      classNames,
      resolution: modelSpec.resolution,
      normalization: { mean: [...normalization.mean], std: [...normalization.std] },
      parameters: pool.params.entries.map((e) => ({ name: e.name, shape: e.shape.slice(), offset: e.offset, size: e.size })),
      params: pool.params.data,
      optimizer: { name: config.optimizer, state: { ...pool.optimizerState } },
      step,
      epoch,
      stepInEpoch,
      rng: { seed: config.seed, state: rngState },
      summary: { ...summary, ...best },
      createdAt: new Date().toISOString(),
    };
    if (epochFile) saveCheckpoint(join(checkpointDir, `epoch-${String(epoch).padStart(3, '0')}.msgpack`), state);
    if (isBest) saveCheckpoint(join(checkpointDir, BEST_CHECKPOINT), state);
    const latest = join(checkpointDir, LATEST_CHECKPOINT);
    saveCheckpoint(latest, state);
    return latest;
  };

  try {
    let described;
    try {
      described = await pool.describe();
    } catch (err) {
      throw new TrainingStepError(`the worker threads could not start: ${(err as Error).message}`, 0, err);
    }
    const backend = described[0]?.backend ?? runtime.backend;
    // Before the first step: every rank must train on the same images, or the sum is meaningless.
    if (cluster) await checkSameDataset(cluster, datasetFingerprint(train, test));
    const spread = cluster ? `${ranks} ranks x ${runtime.threads} thread(s) (this rank: ${share.end - share.start} images per step)` : `${runtime.threads} thread(s)`;
    reporter.log(
      `convoy: ${train.count} training images, ${stepsPerEpoch} steps/epoch of ${config.batchSize}, ${spread}, ` +
        `${pool.paramCount} parameters, kernels: ${backend} (${described[0]?.reason ?? ''})` +
        (resume ? `; resuming at step ${step} (epoch ${epoch + 1}, batch ${stepInEpoch})` : ''),
    );
    log.write({ type: 'start', step, epoch, resumed: Boolean(resume), config, threads: runtime.threads, ranks, backend, time: new Date().toISOString() });

    /** A failure inside the loop, named by where it happened, pointing at the checkpoint it left intact. */
    const stoppedAt = (where: string, failedStep: number, err: unknown): TrainingStepError => {
      const kept = lastCheckpoint ?? (checkpointDir ? join(checkpointDir, LATEST_CHECKPOINT) : null);
      return new TrainingStepError(
        `training stopped at ${where}: ${(err as Error).message}` + (kept ? `. The last good checkpoint is intact: ${kept}` : ''),
        failedStep,
        err,
      );
    };
    const stopIfAsked = async (): Promise<TrainingStatus | null> => {
      if (await interruptedAnywhere(options.signal, cluster)) return 'interrupted';
      if (runtime.maxSteps !== null && step >= runtime.maxSteps) return 'max-steps';
      return null;
    };
    const finish = (status: TrainingStatus, saved: string | null): TrainingOutcome => {
      log.write({ type: status === 'completed' ? 'end' : 'stopped', status, step, epoch, stepInEpoch, time: new Date().toISOString() });
      return { status, step, epoch, stepInEpoch, params: pool.params.data.slice(), lastEvaluation, checkpoint: saved, backend, trainSeconds };
    };

    while (epoch < config.epochs) {
      const order = epochOrder(train.count, config.seed, epoch);
      reporter.startEpoch(epoch, config.epochs, stepsPerEpoch, stepInEpoch);
      const epochStart = performance.now();
      let epochLoss = 0;
      let epochCorrect = 0;
      let epochImages = 0;
      while (stepInEpoch < stepsPerEpoch) {
        let stop: TrainingStatus | null;
        try {
          stop = await stopIfAsked();
        } catch (err) {
          reporter.endEpoch();
          throw stoppedAt(`step ${step + 1} (epoch ${epoch + 1}, batch ${stepInEpoch + 1})`, step + 1, err);
        }
        if (stop) {
          reporter.endEpoch();
          lastCheckpoint = checkpoint({ reason: stop }, false);
          if (lastCheckpoint) reporter.log(`${stop === 'interrupted' ? 'interrupted' : `stopped at --max-steps ${runtime.maxSteps}`}: checkpoint ${lastCheckpoint} (step ${step})`);
          return finish(stop, lastCheckpoint);
        }
        options.onStep?.(`step ${step + 1} (epoch ${epoch + 1}, batch ${stepInEpoch + 1})`);
        const indices = batchSlice(order, stepInEpoch, config.batchSize).subarray(share.start, share.end);
        const lr = schedules.lr(step);
        const momentum = schedules.momentum ? schedules.momentum(step) : undefined;
        let result;
        try {
          result = await pool.trainStep({ indices, globalBatch: config.batchSize, epoch, seed: config.seed, augment: config.augment, hyper: { step, lr, momentum } });
        } catch (err) {
          reporter.endEpoch();
          throw stoppedAt(`step ${step + 1} (epoch ${epoch + 1}, batch ${stepInEpoch + 1})`, step + 1, err);
        }
        if (!result.stepped) {
          reporter.endEpoch();
          throw new TrainingDivergedError(
            `training diverged at step ${step + 1} (epoch ${epoch + 1}, batch ${stepInEpoch + 1}, lr ${lr.toPrecision(4)}): ` +
              `loss ${result.loss}; ${result.diverged ?? 'non-finite values'}. Parameters were not updated by this step. ` +
              'Lower --lr (or check the data); resume from an earlier checkpoint with --resume.',
            step + 1,
            epoch,
          );
        }
        step++;
        stepInEpoch++;
        trainSeconds += result.timings.total;
        epochLoss += result.loss * result.count;
        epochCorrect += result.correct;
        epochImages += result.count;
        const imagesPerSecond = result.count / result.timings.total;
        log.write({ type: 'step', step, epoch: epoch + 1, loss: result.loss, lr, imagesPerSecond, elapsed: elapsed() });
        reporter.update({ epoch, epochs: config.epochs, stepInEpoch, stepsInEpoch: stepsPerEpoch, loss: epochLoss / epochImages, imagesPerSecond: epochImages / ((performance.now() - epochStart) / 1000) });
      }
      reporter.endEpoch();
      const epochSeconds = (performance.now() - epochStart) / 1000;
      try {
        lastEvaluation = test ? await evaluateTestSet(pool, runtime.limitTest ?? undefined, cluster) : null;
      } catch (err) {
        throw stoppedAt(`the test-set evaluation after epoch ${epoch + 1} (step ${step})`, step, err);
      }
      const record = {
        type: 'epoch' as const,
        epoch: epoch + 1,
        step,
        trainLoss: epochImages ? epochLoss / epochImages : Number.NaN,
        trainAccuracy: epochImages ? epochCorrect / epochImages : Number.NaN,
        testLoss: lastEvaluation?.loss ?? Number.NaN,
        testAccuracy: lastEvaluation?.accuracy ?? Number.NaN,
        imagesPerSecond: epochImages / epochSeconds,
        epochSeconds,
        elapsed: elapsed(),
      };
      log.write(record);
      reporter.log(
        `epoch ${epoch + 1}/${config.epochs}: train loss ${record.trainLoss.toFixed(4)} acc ${(100 * record.trainAccuracy).toFixed(2)}% | ` +
          (lastEvaluation ? `test loss ${record.testLoss.toFixed(4)} acc ${(100 * record.testAccuracy).toFixed(2)}% (${lastEvaluation.count} images) | ` : '') +
          `${record.imagesPerSecond.toFixed(1)} img/s | ${epochSeconds.toFixed(1)} s`,
      );
      epoch++;
      stepInEpoch = 0;
      const isBest = Number.isFinite(record.testAccuracy) && (best === null || record.testAccuracy > best.bestTestAccuracy);
      if (isBest) best = { bestTestAccuracy: record.testAccuracy, bestEpoch: epoch };
      lastCheckpoint = checkpoint({ testAccuracy: record.testAccuracy, testLoss: record.testLoss, trainLoss: record.trainLoss }, true, isBest);
    }
    return finish('completed', lastCheckpoint);
  } finally {
    await pool.close();
  }
}

/**
 * Whether this process was asked to stop, or (across hosts) any rank was: every rank calls this
 * before every step, so all of them see the same answer and stop after the same step.
 */
async function interruptedAnywhere(signal: AbortSignal | undefined, cluster: Cluster | null): Promise<boolean> {
  const here = signal?.aborted === true;
  if (!cluster) return here;
  const votes = new Float32Array(new SharedArrayBuffer(4));
  votes[0] = here ? 1 : 0;
  await cluster.allReduce(votes, 'the vote on stopping before a step');
  return votes[0] > 0;
}

/** The test set evaluated data-parallel; over several hosts each evaluates its part and the totals are summed. */
async function evaluateTestSet(pool: GradientPool, limit: number | undefined, cluster: Cluster | null): Promise<EvaluationResult> {
  if (!cluster) return pool.evaluate('test', limit);
  const mine = await pool.evaluate('test', limit, { index: cluster.rank, of: cluster.size });
  const totals = new Float32Array(new SharedArrayBuffer(3 * 4));
  totals.set([mine.lossSum, mine.correct, mine.count]);
  await cluster.allReduce(totals, 'the sum of the test-set evaluation over ranks');
  const [lossSum, correct, count] = totals;
  return { loss: lossSum / count, lossSum, accuracy: correct / count, correct, count, seconds: mine.seconds };
}

/** Evaluates parameters on a set with a fresh pool (the `eval` command). */
export async function evaluateParameters(options: {
  params: Float32Array;
  /** The network the parameters belong to (a checkpoint's modelSpec). */
  modelSpec: ModelSpec;
  /** The normalisation the network was trained with; default CIFAR-10's. */
  normalization?: Normalization;
  test: ImageSet;
  threads: number;
  backend: string;
  limit?: number;
  workerFile?: string;
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
      workerFile: options.workerFile,
    });
    const [first] = await pool.describe();
    return { ...(await pool.evaluate('test', options.limit)), backend: first?.backend ?? options.backend };
  } finally {
    await pool?.close();
  }
}
