import { Piscina } from 'piscina';
import type { ImageSet, Normalization } from '@convoy/data';
import { referenceBackend } from '@convoy/kernels';
import { buildModel, type Optimizer } from '@convoy/nn';
import { ParameterArena, Rng, type ParameterSpec } from '@convoy/tensor';
import { createOptimizer } from './optimizerSpec';
import { taskLane } from './protocol';
import type {
  DescribeResult, EvaluateResult, GradientResult, ModelSpec, OptimizerSpec, OptimizerStepRequest, ReduceResult, WorkerSetup, WorkerTask,
} from './protocol';
import { alignedChunks, splitRange } from './shards';
import { resolveWorkerFile } from './workerFile';

export interface GradientPoolOptions {
  /** Worker threads (and gradient slots). One per core is the sweet spot. */
  threads: number;
  /** Plain-JSON model spec for nn's buildModel (e.g. recipeNet's spec). */
  modelSpec: ModelSpec;
  /** Kernel backend each thread creates for itself. Default 'auto'. */
  backend?: string;
  optimizer: OptimizerSpec;
  train: ImageSet;
  test?: ImageSet | null;
  /** Largest global batch computeGradients will be given (sizes the shared index buffer). */
  maxBatch: number;
  /** Initial parameters, copied in. Otherwise the model is initialised with `rng` (or `new Rng(seed)`). */
  params?: Float32Array;
  rng?: Rng;
  seed?: number;
  /** Initial optimizer state (e.g. from a checkpoint), copied in; default zeros. */
  optimizerState?: Record<string, Float32Array>;
  normalization?: Normalization;
  /** Images per forward pass in evaluate(); default 250. */
  evalChunk?: number;
  /** The built worker script; see resolveWorkerFile. */
  workerFile?: string;
}

export interface BatchRequest {
  /** Sample indices (into the train set) of the global batch. */
  indices: ArrayLike<number>;
  epoch: number;
  seed: number;
  augment: boolean;
}

export interface GradientSummary {
  /** Sum of per-sample losses over the global batch (NaN if any shard diverged). */
  lossSum: number;
  correct: number;
  count: number;
  slots: GradientResult[];
  seconds: number;
  /** What a worker saw when the forward pass overflowed (lossSum is then NaN). */
  diverged?: string;
}

export interface StepTimings {
  /** Wall seconds of the gradient phase (fill, forward, backward on every shard). */
  compute: number;
  /** Wall seconds of the all-reduce (reduce-scatter) and the optimizer step. */
  allReduce: number;
  total: number;
}

export interface TrainStepResult {
  /** Mean loss over the global batch; NaN or Infinity when training diverged (parameters then untouched). */
  loss: number;
  correct: number;
  count: number;
  /** False when the loss or the averaged gradient was not finite: the optimizer did not step. */
  stepped: boolean;
  /** Why it did not step: a worker's divergence report, or a non-finite loss or gradient. */
  diverged?: string;
  timings: StepTimings;
}

export interface EvaluationResult {
  loss: number;
  accuracy: number;
  correct: number;
  count: number;
  seconds: number;
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
  if (typeof cause === 'object' && cause !== null && 'message' in cause) return String((cause as { message: unknown }).message);
  return String(cause);
}

function describe(task: WorkerTask): string {
  switch (task.kind) {
    case 'gradients':
      return `gradient slot ${task.slot}`;
    case 'reduce':
    case 'step':
      return `${task.kind} chunk ${task.chunk}`;
    case 'evaluate':
      return `evaluation of ${task.set} [${task.start}, ${task.end})`;
    default:
      return task.kind;
  }
}

/**
 * A piscina pool of gradient workers around shared memory: the parameter arena, one gradient slot
 * per thread, the averaged gradient and the optimizer state all live on SharedArrayBuffers handed
 * to the threads once; each call sends only small task descriptors.
 *
 * One synchronous data-parallel step is `trainStep`: computeGradients (shard k -> slot k, summed
 * per-sample gradients), reduceScatter (thread k sums chunk k of every slot, divided by the global
 * batch), optimizerStep (each thread steps its chunk). The result equals the single-threaded step
 * up to float summation order.
 */
export class GradientPool {
  readonly threads: number;
  readonly paramCount: number;
  readonly parameterSpecs: ParameterSpec[];
  /** The parameters, on shared memory: read them any time between calls. */
  readonly params: ParameterArena;
  /** The averaged gradient of the last reduceScatter. */
  readonly gradient: Float32Array;
  /** The optimizer (its state arrays are shared with the workers). */
  readonly optimizer: Optimizer;
  readonly train: ImageSet;
  readonly test: ImageSet | null;
  private readonly piscina: Piscina<WorkerTask, unknown>;
  private readonly batchIndices: Uint32Array;
  private readonly taskOwners: Int32Array;
  private readonly chunks: Array<{ start: number; end: number }>;
  private activeSlots: number[] = [];
  private activeCount = 0;
  private closed = false;

  private constructor(options: GradientPoolOptions) {
    const threads = options.threads;
    if (!Number.isInteger(threads) || threads < 1) throw new RangeError(`GradientPool: threads must be an integer >= 1, got ${threads}`);
    if (!Number.isInteger(options.maxBatch) || options.maxBatch < 1) {
      throw new RangeError(`GradientPool: maxBatch must be an integer >= 1, got ${options.maxBatch}`);
    }
    this.threads = threads;
    this.train = options.train;
    this.test = options.test ?? null;
    // The coordinator's copy of the model is only used for its parameter layout and initialisation.
    const model = buildModel(options.modelSpec, { backend: referenceBackend });
    this.parameterSpecs = model.parameterSpecs();
    this.params = new ParameterArena(this.parameterSpecs, { shared: true });
    this.paramCount = this.params.size;
    if (options.params) {
      if (options.params.length !== this.paramCount) {
        throw new RangeError(`GradientPool: given ${options.params.length} parameters, the model has ${this.paramCount}`);
      }
      this.params.data.set(options.params);
    } else {
      model.bind(this.params, new ParameterArena(this.parameterSpecs));
      model.initialize(options.rng ?? new Rng(options.seed ?? 0));
    }
    const gradsBuffer = new SharedArrayBuffer(threads * this.paramCount * 4);
    const reducedBuffer = new SharedArrayBuffer(this.paramCount * 4);
    const indicesBuffer = new SharedArrayBuffer(options.maxBatch * 4);
    this.gradient = new Float32Array(reducedBuffer);
    this.batchIndices = new Uint32Array(indicesBuffer);
    const ownersBuffer = new SharedArrayBuffer(threads * 4);
    this.taskOwners = new Int32Array(ownersBuffer);
    this.optimizer = createOptimizer(options.optimizer, this.paramCount);
    const stateBuffers: Record<string, SharedArrayBuffer> = {};
    for (const [name, values] of Object.entries(this.optimizer.state)) {
      const given = options.optimizerState?.[name];
      if (options.optimizerState && !given) {
        throw new RangeError(`GradientPool: optimizer state is missing '${name}' (has ${Object.keys(options.optimizerState).join(', ') || 'nothing'})`);
      }
      if (given) {
        if (given.length !== this.paramCount) throw new RangeError(`GradientPool: optimizer state '${name}' has ${given.length} values, expected ${this.paramCount}`);
        values.set(given);
      }
      stateBuffers[name] = values.buffer as SharedArrayBuffer;
    }
    this.chunks = alignedChunks(this.paramCount, threads);
    const setup: WorkerSetup = {
      modelSpec: options.modelSpec,
      backend: options.backend ?? 'auto',
      paramCount: this.paramCount,
      params: this.params.buffer as SharedArrayBuffer,
      grads: gradsBuffer,
      slots: threads,
      reduced: reducedBuffer,
      batchIndices: indicesBuffer,
      taskOwners: ownersBuffer,
      optimizer: { spec: options.optimizer, state: stateBuffers },
      train: options.train,
      test: options.test ?? null,
      evalChunk: options.evalChunk ?? 250,
      normalization: options.normalization,
    };
    this.piscina = new Piscina({
      filename: resolveWorkerFile(options.workerFile),
      minThreads: threads,
      maxThreads: threads,
      // Threads hold a built model: never let piscina retire them between steps.
      idleTimeout: 2 ** 31 - 1,
      workerData: setup,
    });
  }

  static async create(options: GradientPoolOptions): Promise<GradientPool> {
    return new GradientPool(options);
  }

  /** Kernel backend and thread id of the threads that answer (each builds its runtime on first use). */
  async describe(): Promise<DescribeResult[]> {
    return this.runAll(Array.from({ length: this.threads }, () => ({ kind: 'describe' as const })), 'describe') as Promise<DescribeResult[]>;
  }

  /** Forward + backward of the global batch, shard k into gradient slot k. Does not touch the parameters. */
  async computeGradients(request: BatchRequest): Promise<GradientSummary> {
    const t0 = performance.now();
    const n = request.indices.length;
    if (n < 1 || n > this.batchIndices.length) {
      throw new RangeError(`computeGradients: batch of ${n} samples; expected 1..${this.batchIndices.length} (the pool's maxBatch)`);
    }
    this.batchIndices.set(request.indices as ArrayLike<number>);
    const shards = splitRange(n, this.threads);
    const tasks: WorkerTask[] = [];
    shards.forEach((r, slot) => {
      if (r.end > r.start) tasks.push({ kind: 'gradients', slot, start: r.start, end: r.end, epoch: request.epoch, seed: request.seed, augment: request.augment });
    });
    const results = (await this.runAll(tasks, 'gradient computation')) as GradientResult[];
    results.sort((a, b) => a.slot - b.slot);
    this.activeSlots = results.map((r) => r.slot);
    this.activeCount = n;
    let lossSum = 0;
    let correct = 0;
    for (const r of results) {
      lossSum += r.lossSum;
      correct += r.correct;
    }
    const diverged = results.find((r) => r.diverged)?.diverged;
    return { lossSum, correct, count: n, slots: results, seconds: (performance.now() - t0) / 1000, ...(diverged ? { diverged } : {}) };
  }

  /**
   * The all-reduce: gradient = (sum of the slots written by the last computeGradients) / batch,
   * as a parallel reduce-scatter (one chunk per thread). Returns false if it holds NaN or Inf.
   */
  async reduceScatter(): Promise<boolean> {
    if (this.activeSlots.length === 0) throw new Error('reduceScatter: call computeGradients first');
    const scale = 1 / this.activeCount;
    const tasks: WorkerTask[] = this.chunks.map((c, chunk) => ({ kind: 'reduce', chunk, start: c.start, end: c.end, slots: this.activeSlots, scale }));
    const results = (await this.runAll(tasks, 'all-reduce')) as ReduceResult[];
    return results.every((r) => r.finite);
  }

  /** The optimizer steps every chunk of the parameters with the averaged gradient, in parallel. */
  async optimizerStep(request: OptimizerStepRequest): Promise<void> {
    const tasks: WorkerTask[] = this.chunks.map((c, chunk) => ({ kind: 'step', chunk, start: c.start, end: c.end, step: request }));
    await this.runAll(tasks, 'optimizer step');
  }

  /** One synchronous data-parallel step. Parameters stay untouched when the loss or gradient is not finite. */
  async trainStep(request: BatchRequest & { step: OptimizerStepRequest }): Promise<TrainStepResult> {
    const t0 = performance.now();
    const summary = await this.computeGradients(request);
    const t1 = performance.now();
    const loss = summary.lossSum / summary.count;
    let stepped = false;
    let diverged = summary.diverged;
    if (Number.isFinite(loss)) {
      if (await this.reduceScatter()) {
        await this.optimizerStep(request.step);
        stepped = true;
      } else {
        diverged = 'the averaged gradient holds NaN or Infinity';
      }
    } else {
      diverged ??= `the loss is ${loss}`;
    }
    const t2 = performance.now();
    return {
      loss: stepped ? loss : Number.isFinite(loss) ? Number.NaN : loss,
      correct: summary.correct,
      count: summary.count,
      stepped,
      ...(diverged ? { diverged } : {}),
      timings: { compute: (t1 - t0) / 1000, allReduce: (t2 - t1) / 1000, total: (t2 - t0) / 1000 },
    };
  }

  /** Mean loss and accuracy of the current parameters on the first `limit` images of a set, data-parallel. */
  async evaluate(set: 'test' | 'train' = 'test', limit?: number): Promise<EvaluationResult> {
    const t0 = performance.now();
    const images = set === 'test' ? this.test : this.train;
    if (!images) throw new Error('evaluate: this pool was created without a test set');
    const count = Math.min(images.count, limit ?? images.count);
    if (count < 1) throw new RangeError(`evaluate: no ${set} images to evaluate`);
    const tasks: WorkerTask[] = splitRange(count, this.threads)
      .filter((r) => r.end > r.start)
      .map((r, part) => ({ kind: 'evaluate', part, set, start: r.start, end: r.end }));
    const results = (await this.runAll(tasks, 'evaluation')) as EvaluateResult[];
    let lossSum = 0;
    let correct = 0;
    for (const r of results) {
      lossSum += r.lossSum;
      correct += r.correct;
    }
    return { loss: lossSum / count, accuracy: correct / count, correct, count, seconds: (performance.now() - t0) / 1000 };
  }

  /** Stops every thread. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.piscina.destroy();
  }

  private async runAll(tasks: WorkerTask[], phase: string): Promise<unknown[]> {
    if (this.closed) throw new Error(`${phase}: the gradient pool is closed`);
    this.taskOwners.fill(-1);
    const settled = await Promise.allSettled(tasks.map((t) => this.piscina.run(t)));
    const failures: Array<{ task: string; cause: unknown }> = [];
    settled.forEach((s, i) => {
      if (s.status !== 'rejected') return;
      const message = messageOf(s.reason);
      // A task that threw names its thread itself; for one whose thread died, say which thread had it.
      const lane = taskLane(tasks[i]);
      const owner = lane >= 0 ? Atomics.load(this.taskOwners, lane) : -1;
      const thread = /worker thread \d+/.test(message) || lane < 0 ? '' : owner >= 0 ? ` (worker thread ${owner})` : ' (before any thread picked it up)';
      failures.push({ task: `${describe(tasks[i])}${thread}`, cause: s.reason });
    });
    if (failures.length > 0) {
      const lines = failures.map((f) => `${f.task}: ${messageOf(f.cause)}`);
      throw new WorkerTaskError(`${phase} failed in ${failures.length} of ${tasks.length} worker task(s): ${lines.join('; ')}`, failures);
    }
    return settled.map((s) => (s as PromiseFulfilledResult<unknown>).value);
  }
}

/** Creates a pool; see GradientPool. */
export function createGradientPool(options: GradientPoolOptions): Promise<GradientPool> {
  return GradientPool.create(options);
}
