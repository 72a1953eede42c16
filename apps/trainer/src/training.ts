import { basename } from 'node:path';
import { CIFAR10_NORMALIZATION, planBytes, trainSplitBytes, TrainStream, type ImageSet, type TestStream, type Normalization, type PackedIndex, type StreamPlan, type StreamReport } from '@convoy/data';
import {
  CheckpointError, chanceLevel, cifar10ClassNamesFor, detectCollapse, hyperparameterSchedules, modelSpecFor, optimizerSpecFor, warmupEpochs, type ChanceLevel, type CheckpointState, type Collapse, type RunConfig,
} from '@convoy/run';
import { buildModel, ghostGroupSize, initImagesWanted, whiteningBiasName, type ModelSpec } from '@convoy/nn';
import { Rng } from '@convoy/tensor';
import type { Cluster } from '@convoy/cluster';
import { createGradientPool, type EvaluationResult, type GradientPool, type LookaheadCopy } from '@convoy/worker';
import type { ExecutionConfig } from './config';
import { collapseWarning } from './collapseWarning';
import { streamedBatches, wholeSetBatches, type BatchSource } from './batchSource';
import { checkSameDataset, datasetFingerprint } from './datasetCheck';
import { trainEpoch, type EpochTotals } from './epochLoop';
import { evaluateTestSet } from './evaluation';
import { MetricsLog, peakRssMiB } from './metricsLog';
import { NoProgress, type ProgressReporter } from './progress';
import { RunCheckpoints, type RunPosition } from './runCheckpoints';
import { describeSpread, interruptedAnywhere, placeRun, placeStreamedRun, type RunPlacement } from './runPlacement';
import { TrainingStepError } from './trainingErrors';
import { UsageError } from './usageError';

/** A packed training split too big for --data-memory, streamed from its shards (docs/DISTRIBUTED.md, "Streaming a packed dataset"). */
export interface StreamedTraining {
  root: string;
  index: PackedIndex;
  plan: StreamPlan;
  /** The plan's partitions this process reads (all of them on one host). */
  partitions: { start: number; end: number };
  skipBadShards: boolean;
}

export interface TrainingOptions {
  config: RunConfig;
  execution: ExecutionConfig;
  /** The training images held in memory (empty when `stream` is given). */
  train: ImageSet;
  /** Stream the training images from a packed split's shards instead of `train`. */
  stream?: StreamedTraining;
  /** Evaluated after every epoch (data-parallel); null skips evaluation. With `testStream`, the stream's window. */
  test: ImageSet | null;
  /** A packed test split too big for its share of --data-memory, evaluated through `test` a window at a time. */
  testStream?: TestStream | null;
  /** Names of the labels 0..k-1, recorded in checkpoints; default CIFAR-10's (narrowed by `config.classes`). */
  classNames?: readonly string[];
  /** Pixel normalisation for training and evaluation, recorded in checkpoints; default CIFAR-10's standard statistics. */
  normalization?: Normalization;
  /** The network to train (a layer list from --model); default the recipe network of `config`. A resumed run trains its checkpoint's. */
  modelSpec?: ModelSpec;
  /** Continue this checkpoint (already read and checked against `config`). */
  resume?: CheckpointState;
  reporter?: ProgressReporter;
  /** Aborting it (Ctrl-C) finishes the current step, saves a checkpoint and returns 'interrupted'. */
  signal?: AbortSignal;
  /** The built worker script, when it is not found next to @convoy/worker. */
  workerFile?: string;
  /** This process's place in a multi-host (MPI) run (see RunPlacement); null or absent: one process. */
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
  /** The network's buffers (BatchNorm's running statistics) at the end; empty without BatchNorm. */
  buffers: Float32Array;
  /** The last test-set evaluation (null when none ran in this part of the run). */
  lastEvaluation: EvaluationResult | null;
  /** The checkpoint written last, if any. */
  checkpoint: string | null;
  backend: string;
  /** Wall seconds of this invocation's training steps. */
  trainSeconds: number;
  /** The last epoch's collapse (its training loss or test accuracy at chance; see @convoy/run's detectCollapse), or null. */
  collapse: Collapse | null;
}

/**
 * The coordinator's run (docs/ARCHITECTURE.md, "One synchronous data-parallel step"): place this
 * process (runPlacement), start the pool, then for each epoch the seeded batches (epochLoop), the
 * data-parallel test evaluation, a metrics line and a checkpoint (runCheckpoints). Everything random
 * is a function of (seed, epoch, sample), so a resumed run repeats exactly what an unbroken one does.
 */
export async function runTraining(options: TrainingOptions): Promise<TrainingOutcome> {
  const { config, execution, train, test, resume } = options;
  const rng = new Rng(config.seed);
  const classNames = [...(options.classNames ?? cifar10ClassNamesFor(config))];
  const normalization = options.normalization ?? CIFAR10_NORMALIZATION;
  const modelSpec = resume?.modelSpec ?? options.modelSpec ?? modelSpecFor(config, classNames.length);
  const stream = options.stream;
  const placement = stream
    ? placeStreamedRun(stream.plan, stream.partitions, options.cluster ?? null)
    : placeRun(config.batchSize, train.count, options.cluster ?? null, ghostGroupSize(buildModel(modelSpec)));
  const { cluster, lead, share } = placement;
  // A whitening layer starts from the first images of the whole split's epoch-0 order, which a
  // stream never holds at once (its pool sees one batch at a time).
  if (config.whiteningBiasEpochs !== null && whiteningBiasName(modelSpec) === null) {
    throw new UsageError('--whitening-bias-epochs needs a network whose first layer is a whitening conv with a bias ("init": "whitening"), e.g. models/airbench94.json');
  }
  if (stream && !resume && initImagesWanted(modelSpec) > 0) {
    throw new UsageError('the network starts a whitening layer from the training images, which a split streamed within --data-memory does not hold at once: raise --data-memory above the split\'s size');
  }
  const trainStream = stream ? new TrainStream({
    root: stream.root, index: stream.index, plan: stream.plan, partitions: stream.partitions, seed: config.seed, skipBadShards: stream.skipBadShards, epochs: config.epochs,
  }) : null;
  const batches = trainStream ? streamedBatches(trainStream) : wholeSetBatches(train, config.seed, config.batchSize, share);
  const reporter = lead ? (options.reporter ?? new NoProgress()) : new NoProgress();
  const log = new MetricsLog(lead ? (execution.log ?? undefined) : undefined);
  const pool = await createGradientPool({
    threads: execution.threads,
    modelSpec,
    backend: execution.backend,
    optimizer: optimizerSpecFor(config, placement.stepsPerEpoch),
    // A streamed split: the pool's training set is the stream's copy of this process's part of the batch.
    train: trainStream ? trainStream.batch : train,
    test,
    normalization,
    maxBatch: share.end - share.start,
    maxGlobalBatch: config.batchSize,
    workerFile: options.workerFile,
    ...(cluster ? { crossHost: cluster } : {}),
    ...(resume ? { params: resume.params, buffers: resume.buffers.data, optimizerState: resume.optimizer.state } : { rng, seed: config.seed }),
    ...(config.lookahead > 0 ? { lookahead: resumedLookahead(resume) } : {}),
  });
  const rngState = resume ? resume.rng.state : rng.getState();
  const checkpoints = new RunCheckpoints(
    lead ? execution.checkpointDir : null,
    { config, modelSpec, classNames, normalization, params: pool.params, buffers: pool.buffers, optimizerState: pool.optimizerState, lookahead: pool.lookahead, rngState },
    resume,
  );
  try {
    const backend = await startRun(options, placement, pool, log, reporter);
    return await trainEpochs(options, { placement, pool, log, reporter, checkpoints, backend, classes: classNames.length, batches, streamReport: trainStream?.report ?? null });
  } finally {
    await pool.close();
    await trainStream?.close();
  }
}

/** A Lookahead run's slow copy: a new run starts it from the initial values; a resumed one must have kept it. */
function resumedLookahead(resume: CheckpointState | undefined): true | LookaheadCopy {
  if (!resume) return true;
  if (!resume.lookahead) throw new CheckpointError('the checkpoint of a run with --lookahead holds no lookahead copy, so it cannot be resumed exactly; resume it with a convoy that wrote it, or start a new run');
  return resume.lookahead;
}

/** Starts the workers, checks every rank has the same data, and says what the run is; returns the kernel backend in use. */
async function startRun(options: TrainingOptions, placement: RunPlacement, pool: GradientPool, log: MetricsLog, reporter: ProgressReporter): Promise<string> {
  const { config, execution, train, test, resume } = options;
  let described;
  try {
    described = await pool.describe();
  } catch (err) {
    throw new TrainingStepError(`the worker threads could not start: ${(err as Error).message}`, 0, err);
  }
  const backend = described[0]?.backend ?? execution.backend;
  // Before the first step: every rank must train on the same images, or the sum is meaningless.
  const stream = options.stream;
  const streamed = stream ? { count: stream.plan.images, identity: JSON.stringify([stream.index.splits.train.shards, stream.plan.partitions.length, stream.plan.shuffleImages, stream.plan.images]) } : undefined;
  if (placement.cluster) await checkSameDataset(placement.cluster, datasetFingerprint(train, options.testStream ? null : test, streamed, options.testStream?.labels));
  if (stream) reporter.log(describeStream(stream));
  reporter.log(
    `convoy: ${streamed?.count ?? train.count} training images, ${placement.stepsPerEpoch} steps/epoch of ${config.batchSize}, ${describeSpread(placement, execution.threads)}, ` +
      `${pool.paramCount} parameters, kernels: ${backend} (${described[0]?.reason ?? ''})` +
      (resume ? `; resuming at step ${resume.step} (epoch ${resume.epoch + 1}, batch ${resume.stepInEpoch})` : ''),
  );
  log.write({
    type: 'start', step: resume?.step ?? 0, epoch: resume?.epoch ?? 0, resumed: Boolean(resume), config, threads: execution.threads, ranks: placement.ranks, backend,
    time: new Date().toISOString(),
  });
  return backend;
}

interface RunParts {
  placement: RunPlacement;
  pool: GradientPool;
  log: MetricsLog;
  reporter: ProgressReporter;
  checkpoints: RunCheckpoints;
  backend: string;
  /** Classes the network predicts. */
  classes: number;
  batches: BatchSource;
  /** What this process's stream read so far (a streamed split), reported after every epoch. */
  streamReport: StreamReport | null;
}

/** Epochs from the run's position to the end (or to a stop): each trained, evaluated, logged and checkpointed. */
async function trainEpochs(options: TrainingOptions, parts: RunParts): Promise<TrainingOutcome> {
  const { config, execution, resume } = options;
  const { placement, pool, log, reporter, checkpoints, backend, batches, streamReport } = parts;
  const position: RunPosition = { step: resume?.step ?? 0, epoch: resume?.epoch ?? 0, stepInEpoch: resume?.stepInEpoch ?? 0 };
  let lastEvaluation: EvaluationResult | null = null;
  let lastCollapse: Collapse | null = null;
  // What a network that learned nothing scores, for the collapse check after each epoch; worked out
  // after the first epoch, so that a bad label is reported by the step that meets it.
  let chance: ChanceLevel | null = null;
  let trainSeconds = 0;
  const startedAt = performance.now();
  const finish = (status: TrainingStatus, saved: string | null): TrainingOutcome => {
    log.write({ type: status === 'completed' ? 'end' : 'stopped', status, ...position, collapse: lastCollapse, peakRssMiB: peakRssMiB(), time: new Date().toISOString() });
    return { status, ...position, params: pool.params.data.slice(), buffers: pool.buffers.data.slice(), lastEvaluation, checkpoint: saved, backend, trainSeconds, collapse: lastCollapse };
  };
  const stoppedAt = (where: string, failedStep: number, err: unknown): TrainingStepError => {
    const kept = checkpoints.kept;
    return new TrainingStepError(`training stopped at ${where}: ${(err as Error).message}` + (kept ? `. The last good checkpoint is intact: ${kept}` : ''), failedStep, err);
  };
  const context = {
    config, batches, pool, placement, reporter, log, stoppedAt, onStep: options.onStep,
    schedules: hyperparameterSchedules(config, placement.stepsPerEpoch),
    elapsed: () => (performance.now() - startedAt) / 1000,
    stopIfAsked: async () => {
      if (await interruptedAnywhere(options.signal, placement.cluster)) return 'interrupted' as const;
      if (execution.maxSteps !== null && position.step >= execution.maxSteps) return 'max-steps' as const;
      return null;
    },
  };

  while (position.epoch < config.epochs) {
    const { stopped, totals } = await trainEpoch(context, position);
    trainSeconds += totals.stepSeconds;
    if (stopped) {
      const saved = checkpoints.save(position, { reason: stopped }, { epochFile: false });
      if (saved) reporter.log(`${stopped === 'interrupted' ? 'interrupted' : `stopped at --max-steps ${execution.maxSteps}`}: checkpoint ${saved} (step ${position.step})`);
      return finish(stopped, saved);
    }
    try {
      const last = position.epoch === config.epochs - 1;
      const tested = last || (position.epoch + 1) % (execution.testEvery ?? 1) === 0;
      const tta = execution.ttaEachEpoch || last ? (execution.tta ?? 'none') : 'none';
      lastEvaluation = options.test && tested ? await evaluateTestSet(pool, execution.limitTest ?? undefined, placement.cluster, tta, options.testStream ?? null) : null;
    } catch (err) {
      throw stoppedAt(`the test-set evaluation after epoch ${position.epoch + 1} (step ${position.step})`, position.step, err);
    }
    const record = epochRecord(position, totals, lastEvaluation, context.elapsed());
    if (streamReport) reportStreamReading(placement, streamReport, reporter, position.epoch);
    chance ??= chanceLevel(batches.labelsForChance(), options.testStream?.labels ?? (options.test ? options.test.labels.subarray(0, options.test.count) : null), parts.classes);
    lastCollapse = detectCollapse(chance, {
      epoch: record.epoch, epochs: config.epochs, warmupEpochs: warmupEpochs(config), trainLoss: record.trainLoss,
      test: lastEvaluation ? { accuracy: lastEvaluation.accuracy, count: lastEvaluation.count } : null,
    });
    log.write({ ...record, collapse: lastCollapse, ...(streamReport ? { streamed: { shardFiles: streamReport.files.length, shardBytes: streamReport.shardBytes, lostImages: streamReport.lost.images } } : {}) });
    reporter.log(epochLine(record, config.epochs, lastEvaluation));
    if (lastCollapse) reporter.log(collapseWarning(lastCollapse, config));
    position.epoch++;
    position.stepInEpoch = 0;
    const isBest = checkpoints.recordEpoch(record.testAccuracy, position.epoch);
    const ttaSummary = lastEvaluation?.tta ? { tta: lastEvaluation.tta.mode, ttaTestAccuracy: lastEvaluation.tta.accuracy, ttaTestLoss: lastEvaluation.tta.loss } : {};
    checkpoints.save(position, { testAccuracy: record.testAccuracy, testLoss: record.testLoss, trainLoss: record.trainLoss, ...ttaSummary }, { epochFile: true, isBest });
  }
  return finish('completed', checkpoints.last);
}

type EpochRecord = ReturnType<typeof epochRecord>;

/** The metrics log's line for the epoch just trained. */
function epochRecord(position: RunPosition, totals: EpochTotals, evaluation: EvaluationResult | null, elapsed: number) {
  return {
    type: 'epoch' as const,
    epoch: position.epoch + 1,
    step: position.step,
    trainLoss: totals.images ? totals.lossSum / totals.images : Number.NaN,
    trainAccuracy: totals.images ? totals.correct / totals.images : Number.NaN,
    testLoss: evaluation?.loss ?? Number.NaN,
    testAccuracy: evaluation?.accuracy ?? Number.NaN,
    ...(evaluation?.tta ? { tta: evaluation.tta.mode, ttaTestLoss: evaluation.tta.loss, ttaTestAccuracy: evaluation.tta.accuracy } : {}),
    imagesPerSecond: totals.images / totals.seconds,
    epochSeconds: totals.seconds,
    elapsed,
    peakRssMiB: peakRssMiB(),
  };
}

function epochLine(record: EpochRecord, epochs: number, evaluation: EvaluationResult | null): string {
  return (
    `epoch ${record.epoch}/${epochs}: train loss ${record.trainLoss.toFixed(4)} acc ${(100 * record.trainAccuracy).toFixed(2)}% | ` +
    (evaluation ? `test loss ${record.testLoss.toFixed(4)} acc ${(100 * record.testAccuracy).toFixed(2)}% (${evaluation.count} images) | ` : '') +
    (evaluation?.tta ? `with TTA ${evaluation.tta.mode}: test loss ${evaluation.tta.loss.toFixed(4)} acc ${(100 * evaluation.tta.accuracy).toFixed(2)}% | ` : '') +
    `${record.imagesPerSecond.toFixed(1)} img/s | ${record.epochSeconds.toFixed(1)} s`
  );
}

/** The start line of a streamed split: partitions, shuffle buffers and the memory they take. */
function describeStream(stream: StreamedTraining): string {
  const { plan, partitions, index } = stream;
  const mib = (bytes: number) => `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
  const own = partitions.end - partitions.start;
  const mine = own === plan.partitions.length ? 'all of them' : `partitions ${partitions.start + 1}-${partitions.end} here`;
  return (
    `convoy: streaming the training split (${mib(trainSplitBytes(index))} in ${index.splits.train.shards.length} shards, above its ${mib(plan.memoryBytes)} of --data-memory)` +
    (plan.images < index.splits.train.count ? `, its first ${plan.images} images in the index's shard order (--limit-train)` : '') + ': ' +
    `${plan.partitions.length} partitions of ${plan.perPartition} images per batch (${mine}), shuffle buffers of ${plan.shuffleImages} images, ` +
    `${mib(planBytes(plan, own))} held by this process`
  );
}

/**
 * After every epoch of a streamed split, every rank says which shards it has read (to stderr, where
 * each rank writes; rank 0 also through the reporter): each reads only its own partitions' shards.
 */
function reportStreamReading(placement: RunPlacement, report: StreamReport, reporter: ProgressReporter, epoch: number): void {
  const names = report.files.map((f) => basename(f));
  const line =
    `streamed ${names.length} shard file(s), ${(report.shardBytes / 1024 ** 2).toFixed(1)} MiB verified and read by epoch ${epoch + 1}: ${names.join(' ')}` +
    (report.lost.shards.length > 0 ? `; --skip-bad-shards left out ${report.lost.shards.length} shard(s) holding ${report.lost.images} images: ${report.lost.shards.map((s) => `${s.file} (${s.reason})`).join('; ')}` : '');
  if (placement.cluster) process.stderr.write(`${placement.cluster.describe()}: ${line}\n`);
  else reporter.log(`convoy: ${line}`);
}
