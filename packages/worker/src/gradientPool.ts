import type { AugmentationKind, ImageSet, Normalization } from '@convoy/data';
import {
  applyGroupStatisticsInOrder, buildModel, ghostGroupSize, initialParameters, lookaheadSync, optimizerStateNames, type Module, type ModelSpec, type OptimizerSpec, type TtaMode,
} from '@convoy/nn';
import { ParameterArena, Rng, type ParameterSpec } from '@convoy/tensor';
import { describeTask, taskIndex } from './protocol';
import type {
  DescribeResult, EvaluateResult, GradientResult, LogitsResult, StepHyperparameters, WorkerSetup, WorkerTask,
} from './protocol';
import { initialImageSample } from './initialImages';
import { alignedChunks, splitBatch, splitRange } from './shards';
import type { TaskRunner, TaskRunnerFactory } from './taskRunner';

/**
 * Sums a Float32Array in place over every host of a multi-host run (an MPI all-reduce), so each
 * host ends up with the same values. The pool calls it once per step, between the reduce and the
 * optimizer step. Implemented outside this package (the trainer hands in @convoy/cluster's).
 */
export interface CrossHostReducer {
  allReduce(values: Float32Array): Promise<void>;
}

export interface GradientPoolOptions {
  /** Worker threads (one batch shard and one parameter chunk each). One per core is the sweet spot. */
  threads: number;
  /** Plain-JSON model spec for nn's buildModel (the recipe's, or a layer list). */
  modelSpec: ModelSpec;
  /** Kernel backend each thread creates for itself. Default 'auto'. */
  backend?: string;
  /** The optimizer the threads step; leave it out for a pool that only evaluates. */
  optimizer?: OptimizerSpec;
  train: ImageSet;
  test?: ImageSet | null;
  /** Largest batch computeGradients will be given (sizes the shared index buffer). */
  maxBatch: number;
  /**
   * Initial parameters, copied in. Otherwise the model is initialised with `rng` (or `new Rng(seed)`),
   * and a whitening layer from the first training images of epoch 0's order under `seed`.
   */
  params?: Float32Array;
  rng?: Rng;
  /** The run's seed (default 0): draws the parameters when `rng` is absent, and orders the images a whitening layer starts from. */
  seed?: number;
  /** Initial buffers (BatchNorm running statistics, e.g. from a checkpoint), copied in; default the model's initial values. */
  buffers?: Float32Array;
  /** Largest global batch over all hosts (sizes the group statistics); default maxBatch (one host). */
  maxGlobalBatch?: number;
  /** Initial optimizer state (e.g. from a checkpoint), copied in; default zeros. */
  optimizerState?: Record<string, Float32Array>;
  normalization?: Normalization;
  /**
   * Images per forward pass in evaluate() and logits(). Default: for a pool that trains, the largest
   * shard of a `maxBatch` batch (what one thread's training step already holds activations for,
   * so evaluating grows no layer buffer or kernel workspace beyond training's); otherwise
   * 250 images (FORWARD_CHUNK).
   */
  evalChunk?: number;
  /** The built worker script of the piscina runner (createGradientPool); see resolveWorkerFile. */
  workerFile?: string;
  /** Sums the reduced gradient over hosts; absent on a single host. */
  crossHost?: CrossHostReducer;
  /**
   * Keep Lookahead's slow copy of the parameters and buffers (syncLookahead): true starts it from
   * the initial values; a copy (e.g. from a checkpoint) is copied in. Absent: no Lookahead.
   */
  lookahead?: boolean | LookaheadCopy;
}

/** Lookahead's slow copy: one value per parameter and one per buffer value, laid out as the pool's arenas. */
export interface LookaheadCopy {
  params: Float32Array;
  buffers: Float32Array;
}

export interface BatchRequest {
  /** Sample indices (into the train set) of this host's part of the global batch. */
  indices: ArrayLike<number>;
  epoch: number;
  seed: number;
  augment: boolean;
  /** Which augmentation `augment` applies (fillBatch's kinds); default 'crop-flip'. */
  augmentation?: AugmentationKind;
  /** Label smoothing eps of the training loss, in [0, 1); default 0 (plain cross-entropy). */
  labelSmoothing?: number;
  /** Samples in the global batch over all hosts: the gradient's divisor. Default `indices.length` (one host). */
  globalBatch?: number;
  /**
   * Position of this host's first sample in the global batch (default 0): a multiple of the model's
   * ghost-group size (see splitBatch), so that BatchNorm groups and dropout masks follow the image,
   * not the host.
   */
  batchOffset?: number;
  /** The optimizer step (0-based) this batch belongs to: keys the dropout masks. trainStep passes hyper.step. Default 0. */
  step?: number;
  /**
   * Which image each index is (parallel to `indices`): keys its augmentation (fillBatch's keys).
   * Default: the indices. A streamed dataset passes the images' places in the whole training split,
   * since `train` then holds only the current batch.
   */
  sampleKeys?: ArrayLike<number>;
}

export interface TrainStepRequest extends BatchRequest {
  hyper: StepHyperparameters;
}

export interface GradientSummary {
  /** Sum of per-sample losses over this host's samples (NaN if any shard diverged). */
  lossSum: number;
  correct: number;
  count: number;
  shards: GradientResult[];
  seconds: number;
  /** What a worker saw when the loss or its shard gradient was not finite (lossSum is then NaN). */
  diverged?: string;
}

export interface StepTimings {
  /** Wall seconds of the gradient phase (fill, forward, backward on every shard). */
  compute: number;
  /** Wall seconds of the all-reduce (reduce, over hosts when there are several) and the optimizer step. */
  allReduce: number;
  /** Wall seconds of the cross-host all-reduce alone (0 on one host). */
  crossHost: number;
  total: number;
}

export interface TrainStepResult {
  /** Mean loss over the global batch; NaN or Infinity when training diverged (parameters then untouched). */
  loss: number;
  /** Correct predictions and samples over the global batch (all hosts). */
  correct: number;
  count: number;
  /** False when the loss or a gradient was not finite (on any host): the optimizer did not step. */
  stepped: boolean;
  /** Why it did not step: a worker's divergence report, or a non-finite loss. */
  diverged?: string;
  timings: StepTimings;
}

export interface EvaluationResult {
  /** Mean loss (0 for an empty part). */
  loss: number;
  lossSum: number;
  accuracy: number;
  correct: number;
  count: number;
  seconds: number;
  /** With test-time augmentation: the same numbers for the logits averaged over the mode's views (nn's ttaLogits). */
  tta?: TtaEvaluation;
}

/** Loss and accuracy of test-time-augmented logits. */
export interface TtaEvaluation {
  mode: TtaMode;
  loss: number;
  lossSum: number;
  accuracy: number;
  correct: number;
}

/** A task failed in a worker (it threw, or its thread died); the message names the task and the cause. */
export class WorkerTaskError extends Error {
  constructor(message: string, readonly failures: Array<{ task: string; cause: unknown }>) {
    super(message);
    this.name = 'WorkerTaskError';
  }
}

/** The message of an error from a worker (not `instanceof Error` when it crossed into another realm, e.g. jest's). */
function messageOf(cause: unknown): string {
  if (typeof cause === 'object' && cause !== null && 'message' in cause) return String((cause).message);
  return String(cause);
}

/** Images per forward pass of a pool that only evaluates (one that trains uses its training shard). */
const FORWARD_CHUNK = 250;

/**
 * The most images one thread gets of a batch of `batch`: a thread holds activations, gradients and
 * kernel workspaces for that many, and they grow to the largest batch a thread is given and stay.
 */
function largestShard(batch: number, threads: number, groupSize: number): number {
  return Math.max(...splitBatch(batch, threads, groupSize).map((r) => r.end - r.start));
}

/** Floats after the gradient in the buffer summed over hosts: loss sum, correct, count, diverged shards. */
const STEP_TOTALS = 4;

/**
 * A pool of gradient workers around shared memory: the parameter arena, one gradient per
 * batch shard, the averaged gradient and the optimizer state all live on SharedArrayBuffers handed
 * to the threads once; each call sends only small task descriptors.
 *
 * One synchronous data-parallel step is `trainStep`, two round trips to the threads on one host:
 * computeGradients (shard k -> gradient k, summed per-sample gradients), then per parameter chunk
 * a reduce (the sum of the shard gradients, divided by the global batch) fused with the optimizer
 * step of that chunk. With a `crossHost` reducer the reduce and the step are separate round trips,
 * with the sum over hosts between them. The result equals the single-threaded step up to float
 * summation order.
 *
 * The threads come from a TaskRunner: piscina's under Node (createGradientPool), Web Workers in a
 * browser; the pool, the protocol and the worker runtime are the same for both.
 */
export class GradientPool {
  readonly threads: number;
  readonly paramCount: number;
  readonly parameterSpecs: ParameterSpec[];
  /** The parameters, on shared memory: read them any time between calls. */
  readonly params: ParameterArena;
  /** The averaged gradient of the last step. */
  readonly gradient: Float32Array;
  /**
   * The model's non-trainable buffers (BatchNorm running statistics), on shared memory: read by the
   * threads in evaluation, updated only here, from the group statistics of each step in global
   * group order (so any number of threads or hosts gives the same values). A checkpoint stores them.
   */
  readonly buffers: ParameterArena;
  /** Images per ghost group of the model's BatchNorm layers (1 without BatchNorm): batches are split on its multiples. */
  readonly groupSize: number;
  /** The optimizer's state arrays by name (on shared memory, stepped by the threads): what a checkpoint stores. */
  readonly optimizerState: Readonly<Record<string, Float32Array>>;
  /** Lookahead's slow copy (options.lookahead), what a checkpoint stores beside the parameters; null without Lookahead. */
  readonly lookahead: LookaheadCopy | null;
  readonly train: ImageSet;
  readonly test: ImageSet | null;
  /** Images per forward pass of evaluate() and logits() in a thread (GradientPoolOptions.evalChunk). */
  readonly evalChunk: number;
  private readonly runner: TaskRunner;
  private readonly batchIndices: Uint32Array;
  private readonly batchKeys: Uint32Array;
  private readonly taskOwners: Int32Array;
  private readonly chunks: Array<{ start: number; end: number }>;
  /** gradient followed by STEP_TOTALS floats: what one cross-host all-reduce sums. */
  private readonly hostSum: Float32Array;
  private readonly crossHost: CrossHostReducer | null;
  private readonly hasOptimizer: boolean;
  /** The coordinator's copy of the model: applies the group statistics to `buffers`. */
  private readonly statisticsModel: Module;
  /** One row of group statistics per ghost group of the global batch (inside hostSum, summed over hosts). */
  private readonly groupRows: Float32Array;
  private readonly groupRowSize: number;
  private filledShards = 0;
  private closed = false;

  constructor(options: GradientPoolOptions, createRunner: TaskRunnerFactory) {
    const threads = options.threads;
    if (!Number.isInteger(threads) || threads < 1) throw new RangeError(`GradientPool: threads must be an integer >= 1, got ${threads}`);
    if (!Number.isInteger(options.maxBatch) || options.maxBatch < 1) {
      throw new RangeError(`GradientPool: maxBatch must be an integer >= 1, got ${options.maxBatch}`);
    }
    this.threads = threads;
    this.train = options.train;
    this.test = options.test ?? null;
    this.crossHost = options.crossHost ?? null;
    const seed = options.seed ?? 0;
    const images = options.params ? undefined : initialImageSample(options.modelSpec, options.train, seed, options.normalization);
    this.params = initialParameters(options.modelSpec, options.rng ?? new Rng(seed), { shared: true, images });
    this.parameterSpecs = this.params.specs();
    this.paramCount = this.params.size;
    if (options.params) {
      if (options.params.length !== this.paramCount) {
        throw new RangeError(`GradientPool: given ${options.params.length} parameters, the model has ${this.paramCount}`);
      }
      this.params.data.set(options.params);
    }
    this.statisticsModel = buildModel(options.modelSpec);
    this.groupSize = ghostGroupSize(this.statisticsModel);
    this.groupRowSize = this.statisticsModel.groupStatisticsSize();
    const bufferSpecs = this.statisticsModel.bufferSpecs();
    this.buffers = new ParameterArena(bufferSpecs, { shared: true });
    this.statisticsModel.bindBuffers(this.buffers);
    this.statisticsModel.resetBuffers();
    if (options.buffers) {
      if (options.buffers.length !== this.buffers.size) {
        throw new RangeError(`GradientPool: given ${options.buffers.length} buffer values, the model has ${this.buffers.size} (${bufferSpecs.map((b) => b.name).join(', ') || 'none'})`);
      }
      this.buffers.data.set(options.buffers);
    }
    const maxGlobalBatch = options.maxGlobalBatch ?? options.maxBatch;
    if (!Number.isInteger(maxGlobalBatch) || maxGlobalBatch < options.maxBatch) {
      throw new RangeError(`GradientPool: maxGlobalBatch must be an integer >= maxBatch (${options.maxBatch}), got ${maxGlobalBatch}`);
    }
    const groupRows = this.groupRowSize > 0 ? Math.ceil(maxGlobalBatch / this.groupSize) : 0;
    const shardGradients = new SharedArrayBuffer(threads * this.paramCount * 4);
    const gradientBuffer = new SharedArrayBuffer((this.paramCount + STEP_TOTALS + groupRows * this.groupRowSize) * 4);
    const indicesBuffer = new SharedArrayBuffer(options.maxBatch * 4);
    const keysBuffer = new SharedArrayBuffer(options.maxBatch * 4);
    this.hostSum = new Float32Array(gradientBuffer);
    this.gradient = this.hostSum.subarray(0, this.paramCount);
    this.groupRows = this.hostSum.subarray(this.paramCount + STEP_TOTALS);
    this.batchIndices = new Uint32Array(indicesBuffer);
    this.batchKeys = new Uint32Array(keysBuffer);
    const ownersBuffer = new SharedArrayBuffer(threads * 4);
    this.taskOwners = new Int32Array(ownersBuffer);
    this.hasOptimizer = Boolean(options.optimizer);
    const state: Record<string, Float32Array> = {};
    const stateBuffers: Record<string, SharedArrayBuffer> = {};
    for (const name of options.optimizer ? optimizerStateNames(options.optimizer) : []) {
      const buffer = new SharedArrayBuffer(this.paramCount * 4);
      state[name] = new Float32Array(buffer);
      stateBuffers[name] = buffer;
      const given = options.optimizerState?.[name];
      if (options.optimizerState && !given) {
        throw new RangeError(`GradientPool: optimizer state is missing '${name}' (has ${Object.keys(options.optimizerState).join(', ') || 'nothing'})`);
      }
      if (given) {
        if (given.length !== this.paramCount) throw new RangeError(`GradientPool: optimizer state '${name}' has ${given.length} values, expected ${this.paramCount}`);
        state[name].set(given);
      }
    }
    this.optimizerState = state;
    this.lookahead = options.lookahead ? this.lookaheadCopy(options.lookahead) : null;
    this.chunks = alignedChunks(this.paramCount, threads);
    this.evalChunk = options.evalChunk ?? (options.optimizer ? largestShard(options.maxBatch, threads, this.groupSize) : FORWARD_CHUNK);
    const setup: WorkerSetup = {
      modelSpec: options.modelSpec,
      backend: options.backend ?? 'auto',
      paramCount: this.paramCount,
      params: this.params.buffer as SharedArrayBuffer,
      shardGradients,
      shards: threads,
      gradient: gradientBuffer,
      buffers: this.buffers.buffer as SharedArrayBuffer,
      groupStatisticsOffset: this.paramCount + STEP_TOTALS,
      groupStatisticsRowSize: this.groupRowSize,
      groupStatisticsRows: groupRows,
      groupSize: this.groupSize,
      batchIndices: indicesBuffer,
      batchKeys: keysBuffer,
      taskOwners: ownersBuffer,
      optimizer: options.optimizer ? { spec: options.optimizer, state: stateBuffers } : null,
      train: options.train,
      test: options.test ?? null,
      evalChunk: this.evalChunk,
      normalization: options.normalization,
    };
    this.runner = createRunner(setup);
  }

  /** Kernel backend and thread id of the threads that answer (each builds its runtime on first use). */
  async describe(): Promise<DescribeResult[]> {
    return this.runAll(Array.from({ length: this.threads }, () => ({ kind: 'describe' as const })), 'describe') as Promise<DescribeResult[]>;
  }

  /** Forward + backward of the batch, shard k into gradient k. Does not touch the parameters. */
  async computeGradients(request: BatchRequest): Promise<GradientSummary> {
    const t0 = performance.now();
    const n = request.indices.length;
    if (n < 1 || n > this.batchIndices.length) {
      throw new RangeError(`computeGradients: batch of ${n} samples; expected 1..${this.batchIndices.length} (the pool's maxBatch)`);
    }
    const globalBatch = request.globalBatch ?? n;
    const offset = request.batchOffset ?? 0;
    const g = this.groupSize;
    if (!Number.isInteger(offset) || offset < 0 || offset + n > globalBatch) {
      throw new RangeError(`computeGradients: ${n} samples at batchOffset ${offset} do not fit in a global batch of ${globalBatch}`);
    }
    if (offset % g !== 0 || (n % g !== 0 && offset + n !== globalBatch)) {
      throw new RangeError(
        `computeGradients: this host's samples ${offset}..${offset + n - 1} of the global batch of ${globalBatch} cut a BatchNorm ghost group of ${g} images; ` +
          `split the global batch between hosts on multiples of ${g} (splitBatch), e.g. a global batch that is a multiple of ${g} x hosts`,
      );
    }
    if (this.groupRowSize > 0 && Math.ceil(globalBatch / g) * this.groupRowSize > this.groupRows.length) {
      throw new RangeError(`computeGradients: a global batch of ${globalBatch} exceeds the pool's maxGlobalBatch`);
    }
    if (request.sampleKeys && request.sampleKeys.length !== n) {
      throw new RangeError(`computeGradients: ${request.sampleKeys.length} sample keys for ${n} samples`);
    }
    this.batchIndices.set(request.indices);
    this.batchKeys.set(request.sampleKeys ?? request.indices);
    // Rows of other hosts' groups stay 0, so the cross-host sum leaves every row exactly as its host wrote it.
    this.groupRows.fill(0);
    // Shards are contiguous whole ghost groups and the empty ones come last, so the filled ones are 0..filled-1.
    const tasks: WorkerTask[] = splitBatch(n, this.threads, g)
      .filter((r) => r.end > r.start)
      .map((r, shard) => ({
        kind: 'gradients', shard, start: r.start, end: r.end, epoch: request.epoch, seed: request.seed, augment: request.augment, augmentation: request.augmentation ?? 'crop-flip',
        labelSmoothing: request.labelSmoothing ?? 0, step: request.step ?? 0, batchOffset: offset + r.start, globalBatch,
      }));
    const results = (await this.runAll(tasks, 'gradient computation')) as GradientResult[];
    results.sort((a, b) => a.shard - b.shard);
    this.filledShards = results.length;
    let lossSum = 0;
    let correct = 0;
    for (const r of results) {
      lossSum += r.lossSum;
      correct += r.correct;
    }
    const diverged = results.find((r) => r.diverged)?.diverged;
    return { lossSum, correct, count: n, shards: results, seconds: (performance.now() - t0) / 1000, ...(diverged ? { diverged } : {}) };
  }

  /**
   * gradient = (sum of the shard gradients of the last computeGradients, in shard order) * scale,
   * in parallel, one parameter chunk per thread. `scale` is 1 / global batch.
   */
  async reduce(scale: number): Promise<void> {
    const shards = this.checkFilled('reduce');
    await this.runAll(this.chunks.map((c, chunk) => ({ kind: 'reduce', chunk, start: c.start, end: c.end, shards, scale })), 'all-reduce');
  }

  /** The optimizer steps every chunk of the parameters with `gradient`, in parallel. */
  async optimizerStep(hyper: StepHyperparameters): Promise<void> {
    this.checkOptimizer();
    await this.runAll(this.chunks.map((c, chunk) => ({ kind: 'step', chunk, start: c.start, end: c.end, hyper })), 'optimizer step');
  }

  /** reduce and optimizerStep in one round trip (each thread reduces and steps its own chunk). */
  async reduceAndStep(scale: number, hyper: StepHyperparameters): Promise<void> {
    const shards = this.checkFilled('reduceAndStep');
    this.checkOptimizer();
    await this.runAll(this.chunks.map((c, chunk) => ({ kind: 'reduceStep', chunk, start: c.start, end: c.end, shards, scale, hyper })), 'all-reduce and optimizer step');
  }

  /**
   * One synchronous data-parallel step over this host's part of the global batch. With several
   * hosts, every host must call it with the same `globalBatch` and `hyper` each step; they then
   * agree on whether to step and step the same numbers. Parameters stay untouched when the loss or
   * a gradient is not finite on any host.
   */
  async trainStep(request: TrainStepRequest): Promise<TrainStepResult> {
    const t0 = performance.now();
    const globalBatch = request.globalBatch ?? request.indices.length;
    const summary = await this.computeGradients({ ...request, step: request.step ?? request.hyper.step });
    const t1 = performance.now();
    const scale = 1 / globalBatch;
    let lossSum = summary.lossSum;
    let correct = summary.correct;
    let count = summary.count;
    let divergedShards = summary.shards.filter((r) => r.diverged).length;
    let crossHostSeconds = 0;
    if (this.crossHost) {
      await this.reduce(scale);
      const totals = this.hostSum.subarray(this.paramCount);
      totals.set([divergedShards > 0 ? 0 : lossSum, correct, count, divergedShards]);
      const c0 = performance.now();
      await this.crossHost.allReduce(this.hostSum);
      crossHostSeconds = (performance.now() - c0) / 1000;
      [lossSum, correct, count, divergedShards] = totals;
      if (divergedShards > 0) lossSum = Number.NaN;
    }
    const loss = lossSum / count;
    const stepped = divergedShards === 0 && Number.isFinite(loss);
    if (stepped) {
      if (this.crossHost) await this.optimizerStep(request.hyper);
      else await this.reduceAndStep(scale, request.hyper);
      this.updateRunningStatistics(globalBatch);
    }
    const diverged = stepped ? undefined : (summary.diverged ?? (divergedShards > 0 ? `${divergedShards} shard(s) on another host diverged` : `the loss is ${loss}`));
    const t2 = performance.now();
    return {
      loss,
      correct,
      count,
      stepped,
      ...(diverged ? { diverged } : {}),
      timings: { compute: (t1 - t0) / 1000, allReduce: (t2 - t1) / 1000, crossHost: crossHostSeconds, total: (t2 - t0) / 1000 },
    };
  }

  /**
   * Mean loss and accuracy of the current parameters on the first `limit` images of a set,
   * data-parallel. With `part`, only part `index` of `of` contiguous parts of those images (each
   * host of a multi-host run evaluates its part; the caller sums `lossSum` and `correct`). With
   * `tta` other than 'none', also the numbers of the test-time-augmented logits (`tta`).
   */
  async evaluate(set: 'test' | 'train' = 'test', limit?: number, part?: { index: number; of: number }, tta: TtaMode = 'none'): Promise<EvaluationResult> {
    const t0 = performance.now();
    const images = set === 'test' ? this.test : this.train;
    if (!images) throw new Error('evaluate: this pool was created without a test set');
    const total = Math.min(images.count, limit ?? images.count);
    if (total < 1) throw new RangeError(`evaluate: no ${set} images to evaluate`);
    const range = part ? splitRange(total, part.of)[part.index] : { start: 0, end: total };
    if (!range) throw new RangeError(`evaluate: part ${part?.index} of ${part?.of} does not exist`);
    const count = range.end - range.start;
    const tasks: WorkerTask[] = splitRange(count, this.threads)
      .filter((r) => r.end > r.start)
      .map((r, shard) => ({ kind: 'evaluate', shard, set, start: range.start + r.start, end: range.start + r.end, ...(tta === 'none' ? {} : { tta }) }));
    const results = tasks.length > 0 ? ((await this.runAll(tasks, 'evaluation')) as EvaluateResult[]) : [];
    // Summed in shard order (runAll keeps the tasks' order), as the gradients are.
    let lossSum = 0;
    let correct = 0;
    let ttaLossSum = 0;
    let ttaCorrect = 0;
    for (const r of results) {
      lossSum += r.lossSum;
      correct += r.correct;
      ttaLossSum += r.tta?.lossSum ?? 0;
      ttaCorrect += r.tta?.correct ?? 0;
    }
    const mean = (sum: number): number => (count > 0 ? sum / count : 0);
    return {
      loss: mean(lossSum), lossSum, accuracy: mean(correct), correct, count, seconds: (performance.now() - t0) / 1000,
      ...(tta === 'none' ? {} : { tta: { mode: tta, loss: mean(ttaLossSum), lossSum: ttaLossSum, accuracy: mean(ttaCorrect), correct: ttaCorrect } }),
    };
  }

  /**
   * The network's logits for images [start, end) of a set (default: all of it), data-parallel,
   * without augmentation: (end - start) x classes values, sample-major. What prediction needs.
   */
  async logits(set: 'test' | 'train' = 'test', start = 0, end?: number): Promise<Float32Array> {
    const images = set === 'test' ? this.test : this.train;
    if (!images) throw new Error('logits: this pool was created without a test set');
    const stop = end ?? images.count;
    if (!Number.isInteger(start) || !Number.isInteger(stop) || start < 0 || stop > images.count || start >= stop) {
      throw new RangeError(`logits: range [${start}, ${stop}) is not a non-empty range of the ${images.count} ${set} images`);
    }
    const tasks: WorkerTask[] = splitRange(stop - start, this.threads)
      .filter((r) => r.end > r.start)
      .map((r, shard) => ({ kind: 'logits', shard, set, start: start + r.start, end: start + r.end }));
    const results = (await this.runAll(tasks, 'prediction')) as LogitsResult[];
    const out = new Float32Array(results.reduce((n, r) => n + r.logits.length, 0));
    let at = 0;
    for (const r of results) {
      out.set(r.logits, at);
      at += r.logits.length;
    }
    return out;
  }

  /**
   * One Lookahead sync: the slow copy moves toward the network (slow = decay * slow + (1 - decay) *
   * network, parameters and running statistics alike, as airbench's walk over the state_dict's
   * float tensors) and the network restarts from it. Run here, between steps, in one fixed order: the same on every thread and host count.
   */
  syncLookahead(decay: number): void {
    if (!this.lookahead) throw new Error('syncLookahead: this pool was created without lookahead');
    lookaheadSync(this.lookahead.params, this.params.data, decay);
    for (const e of this.buffers.entries) {
      // A count (num_batches_tracked: an integer tensor in PyTorch, which airbench's float-only walk
      // skips) is not averaged: the network keeps its own, and the slow copy follows it.
      if (e.name.endsWith('num_batches_tracked')) this.lookahead.buffers.set(this.buffers.data.subarray(e.offset, e.offset + e.size), e.offset);
      else lookaheadSync(this.lookahead.buffers, this.buffers.data, decay, e.offset, e.offset + e.size);
    }
  }

  private lookaheadCopy(given: true | LookaheadCopy): LookaheadCopy {
    if (given === true) return { params: Float32Array.from(this.params.data), buffers: Float32Array.from(this.buffers.data) };
    if (given.params.length !== this.paramCount || given.buffers.length !== this.buffers.size) {
      throw new RangeError(
        `GradientPool: the lookahead copy has ${given.params.length} parameters and ${given.buffers.length} buffer values; the model has ${this.paramCount} and ${this.buffers.size}`,
      );
    }
    return { params: Float32Array.from(given.params), buffers: Float32Array.from(given.buffers) };
  }

  /**
   * Applies the group statistics of the last step (every host's, after the cross-host sum) to the
   * buffers, group by group in global order: the same arithmetic in the same order on every host
   * and for any number of threads.
   */
  private updateRunningStatistics(globalBatch: number): void {
    if (this.groupRowSize === 0) return;
    applyGroupStatisticsInOrder(this.statisticsModel, this.groupRows, Math.ceil(globalBatch / this.groupSize));
  }

  /** Stops every thread. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.runner.close();
  }

  private checkFilled(phase: string): number {
    if (this.filledShards === 0) throw new Error(`${phase}: call computeGradients first`);
    return this.filledShards;
  }

  private checkOptimizer(): void {
    if (!this.hasOptimizer) throw new Error('optimizer step: this pool was created without an optimizer (evaluation only)');
  }

  private async runAll(tasks: WorkerTask[], phase: string): Promise<unknown[]> {
    if (this.closed) throw new Error(`${phase}: the gradient pool is closed`);
    this.taskOwners.fill(-1);
    const settled = await Promise.allSettled(tasks.map((t) => this.runner.run(t)));
    const failures: Array<{ task: string; cause: unknown }> = [];
    settled.forEach((s, i) => {
      if (s.status !== 'rejected') return;
      const message = messageOf(s.reason);
      // A task that threw names its thread itself; for one whose thread died, say which thread had it.
      const index = taskIndex(tasks[i]);
      const owner = index >= 0 ? Atomics.load(this.taskOwners, index) : -1;
      const thread = /worker thread \d+/.test(message) || index < 0 ? '' : owner >= 0 ? ` (worker thread ${owner})` : ' (before any thread picked it up)';
      failures.push({ task: `${describeTask(tasks[i])}${thread}`, cause: s.reason });
    });
    if (failures.length > 0) {
      const lines = failures.map((f) => `${f.task}: ${messageOf(f.cause)}`);
      throw new WorkerTaskError(`${phase} failed in ${failures.length} of ${tasks.length} worker task(s): ${lines.join('; ')}`, failures);
    }
    return settled.map((s) => (s as PromiseFulfilledResult<unknown>).value);
  }
}
