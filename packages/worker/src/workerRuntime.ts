import { assertImageSet, fillBatch, imageBytes, type AugmentationKind, type ImageSet } from '@convoy/data';
import type { KernelBackend } from '@convoy/kernels';
import {
  buildModel, buildOptimizer, NonFiniteInputError, softmaxCrossEntropy, stepTrainable, ttaLogits, trainableRanges, whiteningBiasName, type Module, type Optimizer, type ParameterRange,
} from '@convoy/nn';
import { ParameterArena, Tensor } from '@convoy/tensor';
import { selectWorkerBackend } from './backendChoice';
import type {
  ChunkResult, DescribeResult, EvaluateResult, EvaluateTask, GradientResult, GradientTask, LogitsResult, LogitsTask, ReduceStepTask, ReduceTask, StepHyperparameters, StepTask, WorkerSetup,
} from './protocol';
import { plantedTestFault, throwIfPlanted } from './testFault';

/**
 * One worker thread's state, built once per thread from the setup: its own model and kernel
 * backend (single-threaded; backendChoice.ts picks it), and views of the shared buffers.
 * Nothing here is specific to piscina or Node: the same runtime runs in a browser's Web Worker
 * (taskHandler.ts is the entry point both use; `threadId` is whatever id the host gives the thread).
 * piscina may give shard k to any idle thread, so the model is re-pointed at the gradient of the
 * shard a task names (binding only swaps tensor views; nothing is copied).
 */
export class WorkerRuntime {
  private boundShard = -1;
  private readonly shardArenas: ParameterArena[] = [];
  private images = new Float32Array(0);
  private labels = new Int32Array(0);
  private gradLogits: Tensor | null = null;
  private readonly identityOrder: Uint32Array;
  private readonly testFault = plantedTestFault();
  /** The parameter ranges the optimizer steps: all but the model's frozen parameters, BatchNorm's with its group's settings (null: all alike). */
  private readonly trainable: readonly ParameterRange[] | null;
  /** The ranges from step `whiteningBiasSteps` on (the whitening bias frozen); `trainable` otherwise. */
  private readonly trainableLater: readonly ParameterRange[] | null;

  private constructor(
    private readonly setup: WorkerSetup,
    private readonly threadId: number,
    private readonly backend: KernelBackend,
    private readonly backendReason: string,
    private readonly model: Module,
    private readonly params: ParameterArena,
    private readonly batchIndices: Uint32Array,
    private readonly batchKeys: Uint32Array,
    private readonly shardGradients: Float32Array,
    private readonly gradient: Float32Array,
    private readonly optimizer: Optimizer | null,
    private readonly groupRows: Float32Array,
  ) {
    const batchNorm = setup.optimizer?.spec.batchNorm;
    const groups = batchNorm ? [{ names: model.batchNormParameters(), ...batchNorm }] : [];
    this.trainable = trainableRanges(params.entries, model.frozenParameters(), groups);
    // Once the whitening bias has had its steps it is frozen too: the ranges without it.
    const bias = setup.optimizer?.spec.whiteningBiasSteps === undefined ? null : whiteningBiasName(setup.modelSpec);
    this.trainableLater = bias ? trainableRanges(params.entries, [...model.frozenParameters(), bias], groups) : this.trainable;
    const longest = Math.max(setup.train.count, setup.test?.count ?? 0);
    this.identityOrder = new Uint32Array(longest);
    for (let i = 0; i < longest; i++) this.identityOrder[i] = i;
  }

  static async create(setup: WorkerSetup, threadId: number): Promise<WorkerRuntime> {
    // The image sets arrived from another thread: a malformed one fails here, not as garbage pixels.
    assertImageSet(setup.train, 'the training set');
    if (setup.test) assertImageSet(setup.test, 'the test set');
    const { backend, reason } = selectWorkerBackend(setup.backend);
    // Training never needs the gradient with respect to the images: the first conv skips that pass.
    const model = buildModel(setup.modelSpec, { backend, inputGradient: false });
    const specs = model.parameterSpecs();
    const params = new ParameterArena(specs, { buffer: setup.params });
    if (params.size !== setup.paramCount) {
      throw new RangeError(`the model built in the worker has ${params.size} parameters, the coordinator's arena ${setup.paramCount}; model specs differ`);
    }
    // The running statistics are the coordinator's: threads read them in eval and never write them
    // (training forwards defer their group statistics to the pool, see gradients()).
    const bufferSpecs = model.bufferSpecs();
    if (ParameterArena.sizeOf(bufferSpecs) * 4 !== setup.buffers.byteLength || model.groupStatisticsSize() !== setup.groupStatisticsRowSize) {
      throw new RangeError(`the model built in the worker has other buffers than the coordinator's; model specs differ`);
    }
    model.bindBuffers(new ParameterArena(bufferSpecs, { buffer: setup.buffers }));
    let optimizer: Optimizer | null = null;
    if (setup.optimizer) {
      const state: Record<string, Float32Array> = {};
      for (const [name, buffer] of Object.entries(setup.optimizer.state)) state[name] = new Float32Array(buffer);
      optimizer = buildOptimizer(setup.optimizer.spec, { size: setup.paramCount, state });
    }
    return new WorkerRuntime(
      setup, threadId, backend, reason, model, params,
      new Uint32Array(setup.batchIndices),
      new Uint32Array(setup.batchKeys),
      new Float32Array(setup.shardGradients),
      new Float32Array(setup.gradient, 0, setup.paramCount),
      optimizer,
      new Float32Array(setup.gradient, setup.groupStatisticsOffset * 4, setup.groupStatisticsRows * setup.groupStatisticsRowSize),
    );
  }

  describe(): DescribeResult {
    return { backend: this.backend.name, reason: this.backendReason, threadId: this.threadId };
  }

  /** Forward + backward on the shard; the SUM of per-sample gradients lands in gradient `task.shard`. */
  gradients(task: GradientTask): GradientResult {
    const t0 = performance.now();
    if (!Number.isInteger(task.shard) || task.shard < 0 || task.shard >= this.setup.shards) {
      throw new RangeError(`shard ${task.shard} does not exist; the pool has shards 0..${this.setup.shards - 1}`);
    }
    this.bindShard(task.shard);
    throwIfPlanted(this.testFault, task.epoch, this.batchKeys.subarray(task.start, task.end));
    const n = task.end - task.start;
    const x = this.fill(this.setup.train, this.batchIndices, task.start, task.end, task.augment ? task.augmentation : null, task.seed, task.epoch, this.batchKeys);
    // Divergence is reported, not thrown, so the coordinator can stop the run naming the step.
    const diverged = (reason: string): GradientResult => ({
      shard: task.shard, lossSum: Number.NaN, correct: 0, count: n, seconds: (performance.now() - t0) / 1000, backend: this.backend.name, threadId: this.threadId, diverged: reason,
    });
    const rowSize = this.setup.groupStatisticsRowSize;
    const groupSize = this.setup.groupSize;
    if (task.batchOffset % groupSize !== 0 || (n % groupSize !== 0 && task.batchOffset + n !== task.globalBatch)) {
      throw new RangeError(`shard ${task.shard}: images ${task.batchOffset}..${task.batchOffset + n - 1} of ${task.globalBatch} are not whole ghost groups of ${groupSize}`);
    }
    this.model.train();
    this.model.setStepContext({ seed: task.seed, step: task.step, batchOffset: task.batchOffset, globalBatch: task.globalBatch, deferStatistics: true });
    let logits: Tensor;
    try {
      logits = this.model.forward(x);
    } catch (err) {
      const reason = nonFiniteReason(err, this.params.data);
      if (reason) return diverged(reason);
      throw err;
    }
    if (!allFinite(logits.data)) return diverged('the network produced non-finite logits');
    // Each ghost group's statistics go to its row of the global batch; the pool applies the rows in order.
    if (rowSize > 0) this.model.writeGroupStatistics(this.groupRows, rowSize, task.batchOffset / groupSize, 0);
    const gradLogits = this.gradLogitsFor(logits);
    const { loss, correct } = softmaxCrossEntropy(logits, this.labels.subarray(0, n), 'sum', gradLogits, { labelSmoothing: task.labelSmoothing });
    this.model.backward(gradLogits);
    // A finite shard gradient is what lets the reduce and the step run in one round trip: the mean
    // of finite float32 sums, taken in double precision, is finite too.
    if (!allFinite(this.shardArenas[task.shard].data)) return diverged(`the gradient of shard ${task.shard} holds NaN or Infinity`);
    return { shard: task.shard, lossSum: loss, correct, count: n, seconds: (performance.now() - t0) / 1000, backend: this.backend.name, threadId: this.threadId };
  }

  /**
   * One chunk of the reduce: gradient[i] = scale * sum of the shard gradients, in shard order, so
   * the result does not depend on which thread runs which chunk.
   */
  reduce(task: ReduceTask): ChunkResult {
    const t0 = performance.now();
    this.reduceRange(task.start, task.end, task.shards, task.scale);
    return { chunk: task.chunk, seconds: (performance.now() - t0) / 1000 };
  }

  step(task: StepTask): ChunkResult {
    const t0 = performance.now();
    checkChunk(task.start, task.end, this.setup.paramCount);
    this.stepRange(task.start, task.end, task.hyper);
    return { chunk: task.chunk, seconds: (performance.now() - t0) / 1000 };
  }

  /** reduce then step of one chunk: the whole all-reduce and optimizer step of a single-host step in one task. */
  reduceStep(task: ReduceStepTask): ChunkResult {
    const t0 = performance.now();
    this.reduceRange(task.start, task.end, task.shards, task.scale);
    this.stepRange(task.start, task.end, task.hyper);
    return { chunk: task.chunk, seconds: (performance.now() - t0) / 1000 };
  }

  /** The set a forward-only task reads, with its range checked; binds a gradient shard (layers insist on being bound). */
  private forwardSet(task: EvaluateTask | LogitsTask): ImageSet {
    const set = task.set === 'test' ? this.setup.test : this.setup.train;
    if (!set) throw new Error(`${task.kind}: the pool was created without a test set`);
    if (!Number.isInteger(task.start) || !Number.isInteger(task.end) || task.start < 0 || task.end > set.count || task.start > task.end) {
      throw new RangeError(`${task.kind}: range [${task.start}, ${task.end}) is not inside the ${set.count} ${task.set} images`);
    }
    // Forward never writes gradients, but layers insist on being bound: any shard's gradient will do.
    if (this.boundShard < 0) this.bindShard(0);
    // Evaluation and prediction: BatchNorm on its running statistics, dropout off.
    this.model.eval();
    return set;
  }

  /**
   * Loss sum and correct count over samples [start, end) of a set, in chunks, without augmentation;
   * with `task.tta`, also those of the logits averaged over its views (nn's ttaLogits: per image,
   * so the totals do not depend on how the set is split over threads).
   */
  evaluate(task: EvaluateTask): EvaluateResult {
    const t0 = performance.now();
    const set = this.forwardSet(task);
    const tta = task.tta ?? 'none';
    let lossSum = 0;
    let correct = 0;
    const augmented = { lossSum: 0, correct: 0 };
    const result = (): EvaluateResult => ({
      lossSum, correct, count: task.end - task.start, seconds: (performance.now() - t0) / 1000, ...(tta === 'none' ? {} : { tta: augmented }),
    });
    for (let start = task.start; start < task.end; start += this.setup.evalChunk) {
      const end = Math.min(task.end, start + this.setup.evalChunk);
      const x = this.fill(set, this.identityOrder, start, end, null, 0, 0);
      const labels = this.labels.subarray(0, end - start);
      const logits = this.model.forward(x);
      if (!allFinite(logits.data)) {
        lossSum = Number.NaN;
        augmented.lossSum = Number.NaN;
        return result();
      }
      const plain = softmaxCrossEntropy(logits, labels, 'sum', this.gradLogitsFor(logits));
      lossSum += plain.loss;
      correct += plain.correct;
      if (tta === 'none') continue;
      const averaged = ttaLogits(this.model, x, tta, logits);
      if (!allFinite(averaged.data)) {
        augmented.lossSum = Number.NaN;
        return result();
      }
      const viewed = softmaxCrossEntropy(averaged, labels, 'sum', this.gradLogitsFor(averaged));
      augmented.lossSum += viewed.loss;
      augmented.correct += viewed.correct;
    }
    return result();
  }

  /** Logits of samples [start, end) of a set, in chunks, without augmentation (labels are not read). */
  logits(task: LogitsTask): LogitsResult {
    const t0 = performance.now();
    const set = this.forwardSet(task);
    let out: Float32Array | null = null;
    for (let start = task.start; start < task.end; start += this.setup.evalChunk) {
      const end = Math.min(task.end, start + this.setup.evalChunk);
      const logits = this.model.forward(this.fill(set, this.identityOrder, start, end, null, 0, 0));
      const classes = logits.shape[1];
      out ??= new Float32Array((task.end - task.start) * classes);
      out.set(logits.data.subarray(0, (end - start) * classes), (start - task.start) * classes);
    }
    return { logits: out ?? new Float32Array(0), seconds: (performance.now() - t0) / 1000 };
  }

  private reduceRange(start: number, end: number, shards: number, scale: number): void {
    const size = this.setup.paramCount;
    checkChunk(start, end, size);
    if (!Number.isInteger(shards) || shards < 1 || shards > this.setup.shards) {
      throw new RangeError(`reduce over ${shards} shards; the pool has ${this.setup.shards}`);
    }
    const g = this.shardGradients;
    const out = this.gradient;
    for (let i = start; i < end; i++) {
      let s = 0;
      for (let k = 0; k < shards; k++) s += g[k * size + i];
      out[i] = s * scale;
    }
  }

  private stepRange(start: number, end: number, hyper: StepHyperparameters): void {
    if (!this.optimizer) throw new Error('this pool was created without an optimizer (evaluation only)');
    checkChunk(start, end, this.setup.paramCount);
    // nn's optimizers count steps from 1 (PyTorch's t); the pool's step index counts from 0.
    // Frozen parameters are skipped (no step, no weight decay, no momentum); a group steps with its own lr scale and weight decay.
    const until = this.setup.optimizer?.spec.whiteningBiasSteps;
    const ranges = until !== undefined && hyper.step >= until ? this.trainableLater : this.trainable;
    stepTrainable(this.optimizer, { params: this.params.data, grads: this.gradient, lr: hyper.lr, step: hyper.step + 1, momentum: hyper.momentum, start, end }, ranges);
  }

  private bindShard(shard: number): void {
    if (this.boundShard === shard) return;
    let grads = this.shardArenas[shard];
    if (!grads) {
      grads = new ParameterArena(this.params.specs(), { buffer: this.setup.shardGradients, byteOffset: shard * this.setup.paramCount * 4 });
      this.shardArenas[shard] = grads;
    }
    this.model.bind(this.params, grads);
    this.boundShard = shard;
  }

  /** Rows [start, end) of `order` as a normalised NCHW batch, augmented as `augmentation` says (null: plain). */
  private fill(set: WorkerSetup['train'], order: Uint32Array, start: number, end: number, augmentation: AugmentationKind | null, seed: number, epoch: number, keys?: Uint32Array): Tensor {
    const n = end - start;
    const floats = n * imageBytes(set);
    if (this.images.length < floats || this.labels.length < n) {
      this.images = new Float32Array(floats);
      this.labels = new Int32Array(n);
    }
    fillBatch(set, order, start, end, this.images, this.labels, { augment: augmentation !== null, ...(augmentation ? { augmentation } : {}), seed, epoch, normalization: this.setup.normalization, ...(keys ? { keys } : {}) });
    return new Tensor(this.images.subarray(0, floats), [n, set.channels, set.height, set.width]);
  }

  private gradLogitsFor(logits: Tensor): Tensor {
    if (!this.gradLogits || this.gradLogits.size !== logits.size) this.gradLogits = Tensor.zeros(logits.shape);
    return this.gradLogits;
  }
}

/**
 * Whether a forward-pass error means training diverged: nn's layers reject non-finite inputs with
 * "... expected finite numbers ...", which after a step can only come from overflowing activations
 * or parameters (the batch itself is normalised bytes).
 */
function nonFiniteReason(err: unknown, params: Float32Array): string | null {
  const message = typeof err === 'object' && err !== null && 'message' in err ? String((err as Error).message) : String(err);
  if (!allFinite(params)) return `the parameters hold NaN or Infinity (${message})`;
  if (err instanceof NonFiniteInputError) return message;
  return null;
}

function allFinite(values: Float32Array): boolean {
  for (let i = 0; i < values.length; i++) if (values[i] - values[i] !== 0) return false;
  return true;
}

function checkChunk(start: number, end: number, size: number): void {
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end > size || start > end) {
    throw new RangeError(`chunk [${start}, ${end}) is not inside the arena of ${size} parameters`);
  }
}
