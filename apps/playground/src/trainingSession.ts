import { batchCount, batchSlice, CIFAR10_NORMALIZATION, epochOrder, selectSubsets, type ImageSet } from '@convoy/data';
import type { HyperparameterSchedules, ModelSpec } from '@convoy/nn';
import {
  chanceLevel, checkpointStateOf, cifar10ClassNamesFor, detectCollapse, hyperparameterSchedules, optimizerSpecFor, warmupEpochs, type CheckpointState, type Collapse, type RunConfig,
} from '@convoy/run';
import { Rng } from '@convoy/tensor';
import { GradientPool, scheduledStep, StepDivergedError, type DescribeResult, type EvaluationResult, type TrainStepResult } from '@convoy/worker/portable';
import type { BrowserCifar10 } from './dataset';
import { webWorkerRunner } from './webWorkerRunner';
import type { KernelWasm } from './workerMessages';

export interface SessionOptions {
  data: BrowserCifar10;
  config: RunConfig;
  /**
   * The network: a checked model file (the page's box, src/modelFile.ts). A resumed run trains the
   * checkpoint's own network instead, as `convoy train --resume` does.
   */
  modelSpec: ModelSpec;
  /** Web Workers (one batch shard and one parameter chunk each). */
  workers: number;
  /** Kernel backend each worker creates (kernels' selectBackend name). */
  backend: string;
  wasm: KernelWasm;
  /** Test images each periodic evaluation scores (class-balanced, as `--limit-test`). */
  limitTest: number;
  /** Continue this checkpoint (its config, parameters, optimizer state and position), as `convoy train --resume`. */
  resume?: CheckpointState;
}

export interface StepReport {
  step: number;
  epoch: number;
  loss: number;
  accuracy: number;
  /** Images per second of this step (wall time of both round trips). */
  imagesPerSecond: number;
  result: TrainStepResult;
}

/**
 * The coordinator's loop of `convoy train` (apps/trainer's runTraining), on Web Workers: the same
 * data selection (`--classes`, `--limit-train`), the same seeded epoch order and batches, the same
 * schedule and the same GradientPool step, so a seed gives the CLI's parameters after any step.
 * It differs where a page must: it pauses between steps, evaluates a test subset as it goes, and
 * its checkpoints are bytes to download instead of files.
 */
export class TrainingSession {
  readonly train: ImageSet;
  readonly test: ImageSet | null;
  readonly classNames: string[];
  readonly modelSpec: ModelSpec;
  readonly stepsPerEpoch: number;
  step: number;
  epoch: number;
  stepInEpoch: number;
  private readonly schedules: HyperparameterSchedules;
  private readonly rngState: number[];
  private paused = false;
  private wake: (() => void) | null = null;

  private constructor(
    readonly options: SessionOptions,
    readonly pool: GradientPool,
    data: { train: ImageSet; test: ImageSet | null; classNames: string[] },
    rngState: number[],
  ) {
    const { config, resume } = options;
    this.modelSpec = resume?.modelSpec ?? options.modelSpec;
    this.train = data.train;
    this.test = data.test;
    this.classNames = data.classNames;
    this.stepsPerEpoch = batchCount(this.train.count, config.batchSize, 'drop');
    this.schedules = hyperparameterSchedules(config, this.stepsPerEpoch);
    this.rngState = rngState;
    this.step = resume?.step ?? 0;
    this.epoch = resume?.epoch ?? 0;
    this.stepInEpoch = resume?.stepInEpoch ?? 0;
  }

  static async create(options: SessionOptions): Promise<TrainingSession> {
    const { config, data, resume } = options;
    const selected = selectSubsets(
      { train: data.train, test: data.test ?? data.train, classNames: data.classNames, dataDir: data.source },
      { classes: config.classes ?? undefined, limitTrain: config.limitTrain ?? undefined, limitTest: options.limitTest },
    );
    if (batchCount(selected.train.count, config.batchSize, 'drop') < 1) {
      throw new RangeError(`batch size ${config.batchSize} is larger than the training set (${selected.train.count} images): lower it or raise the training limit`);
    }
    const rng = new Rng(config.seed);
    const pool = new GradientPool(
      {
        threads: options.workers,
        modelSpec: resume?.modelSpec ?? options.modelSpec,
        backend: options.backend,
        optimizer: optimizerSpecFor(config),
        train: selected.train,
        test: data.test ? selected.test : null,
        normalization: CIFAR10_NORMALIZATION,
        maxBatch: config.batchSize,
        ...(resume ? { params: resume.params, buffers: resume.buffers.data, optimizerState: resume.optimizer.state } : { rng, seed: config.seed }),
      },
      webWorkerRunner(options.wasm),
    );
    const classNames = cifar10ClassNamesFor(config);
    return new TrainingSession(options, pool, { train: selected.train, test: data.test ? selected.test : null, classNames }, resume ? resume.rng.state : rng.getState());
  }

  get config(): RunConfig {
    return this.options.config;
  }

  get totalSteps(): number {
    return this.config.epochs * this.stepsPerEpoch;
  }

  describe(): Promise<DescribeResult[]> {
    return this.pool.describe();
  }

  /** One optimizer step of the run (the next batch of the seeded epoch order). */
  async trainStep(): Promise<StepReport> {
    const { config } = this;
    const order = epochOrder(this.train.count, config.seed, this.epoch);
    const indices = batchSlice(order, this.stepInEpoch, config.batchSize);
    let result;
    try {
      result = await scheduledStep(this.pool, this.schedules, { indices, epoch: this.epoch, seed: config.seed, augment: config.augment, augmentation: config.augmentation, labelSmoothing: config.labelSmoothing, step: this.step });
    } catch (err) {
      if (err instanceof StepDivergedError) throw new Error(`${err.message} Lower the learning rate.`);
      throw err;
    }
    const report = {
      step: this.step + 1,
      epoch: this.epoch,
      loss: result.loss,
      accuracy: result.correct / result.count,
      imagesPerSecond: result.count / result.timings.total,
      result,
    };
    this.step++;
    this.stepInEpoch++;
    if (this.stepInEpoch >= this.stepsPerEpoch) {
      this.epoch++;
      this.stepInEpoch = 0;
    }
    return report;
  }

  /**
   * The finished run judged as `convoy train` judges its last epoch (@convoy/run's detectCollapse):
   * `trainLoss` is the mean loss of the last epoch's steps, `evaluation` the last test pass. Null
   * when the run learned.
   */
  collapseAtEnd(trainLoss: number, evaluation: EvaluationResult | null): Collapse | null {
    const { config } = this.options;
    const chance = chanceLevel(this.train.labels.subarray(0, this.train.count), this.test ? this.test.labels.subarray(0, this.test.count) : null, this.classNames.length);
    return detectCollapse(chance, {
      epoch: config.epochs, epochs: config.epochs, warmupEpochs: warmupEpochs(config), trainLoss,
      test: evaluation ? { accuracy: evaluation.accuracy, count: evaluation.count } : null,
    });
  }

  get finished(): boolean {
    return this.epoch >= this.config.epochs;
  }

  evaluate(): Promise<EvaluationResult> | null {
    return this.test ? this.pool.evaluate('test') : null;
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.wake?.();
    this.wake = null;
  }

  get isPaused(): boolean {
    return this.paused;
  }

  /** Resolves at once when running, or when resume() is called. */
  whenRunning(): Promise<void> {
    return this.paused ? new Promise((resolve) => (this.wake = resolve)) : Promise.resolve();
  }

  /** The run as `convoy train` would checkpoint it after the last step (same fields, same format). */
  checkpointState(summary: Record<string, unknown>): CheckpointState {
    return checkpointStateOf({
      config: this.config,
      modelSpec: this.modelSpec,
      classNames: this.classNames,
      normalization: CIFAR10_NORMALIZATION,
      params: this.pool.params,
      buffers: this.pool.buffers,
      optimizerState: this.pool.optimizerState,
      position: { step: this.step, epoch: this.epoch, stepInEpoch: this.stepInEpoch },
      rngState: this.rngState,
      summary,
    });
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}
