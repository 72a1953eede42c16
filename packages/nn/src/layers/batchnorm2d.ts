import { formatShape, ParameterArena, ParameterSpec, Rng, Tensor } from '@convoy/tensor';
import { referenceBackend, type ConvEpilogue, type KernelBackend } from '@convoy/kernels';
import { ReusableTensor } from '../buffers';
import { checkGradOut, checkImageInput } from '../checks';
import { Module } from '../module';
import { checkBoolean, checkFiniteNumber, checkFrozen, checkOptions, checkPositiveInteger } from '../options';
import type { FrozenParameters } from './weighted';

export interface BatchNorm2dOptions {
  /** Added to the variance before the square root; default 1e-5 (PyTorch's). */
  eps?: number;
  /** running = (1 - momentum) * running + momentum * batch statistic, per group; default 0.1 (PyTorch's). */
  momentum?: number;
  /** Learnable per-channel `weight` (scale, init 1) and `bias` (shift, init 0); default true. */
  affine?: boolean;
  /**
   * Images per ghost group; default 32. Batch statistics are computed over each group of this many
   * consecutive images of the GLOBAL batch (the last group of a batch may be smaller), never over
   * whatever one thread holds, so 1 thread, N threads and N hosts compute the same numbers.
   */
  groupSize?: number;
  /** Kernel backend for the normalisation passes; default the plain-TS reference. */
  backend?: KernelBackend;
  /**
   * With `affine`, whether there is a `weight` (scale) at all; default true. False keeps only the
   * `bias` (the scale is 1): airbench's BatchNorm, whose scale never trains.
   */
  weight?: boolean;
  /** Parameters that never train: all (true), none (false, default), or ['weight'] / ['bias']. */
  frozen?: FrozenParameters;
}

const BATCHNORM_OPTIONS = ['eps', 'momentum', 'affine', 'groupSize', 'backend', 'weight', 'frozen'] as const;
export const DEFAULT_GHOST_GROUP_SIZE = 32;

/**
 * torch.nn.BatchNorm2d over ghost groups: in training, each group of `groupSize` images of the
 * global batch is normalised with its own per-channel mean and biased variance, and the running
 * statistics take one momentum update per group (unbiased variance, as PyTorch), in group order.
 * In eval mode the running statistics normalise. Buffers, named as PyTorch's state_dict:
 * `running_mean` (init 0), `running_var` (init 1), `num_batches_tracked` (groups seen; a float here).
 *
 * A batch that is one group is exactly torch.nn.BatchNorm2d; several groups are what PyTorch
 * computes when the batch is fed to it one group at a time (see tools/pytorch/model_file.py).
 */
export class BatchNorm2d extends Module {
  readonly kind = 'BatchNorm2d';
  readonly numFeatures: number;
  readonly eps: number;
  readonly momentum: number;
  readonly affine: boolean;
  /** Whether there is a `weight` parameter (affine and not `weight: false`). */
  readonly hasWeight: boolean;
  readonly frozen: FrozenParameters;
  readonly groupSize: number;

  private weight: Float32Array | null = null;
  private bias: Float32Array | null = null;
  private gradWeight: Float32Array | null = null;
  private gradBias: Float32Array | null = null;
  private runningMean: Float32Array | null = null;
  private runningVar: Float32Array | null = null;
  private batchesTracked: Float32Array | null = null;

  private readonly output = new ReusableTensor(() => this.backend);
  private input: Tensor | null = null;
  /** A ReLU after this layer runs in its output pass (see fuseReLUs in sequential.ts). */
  private reluAfter = false;
  private epilogue: ConvEpilogue | undefined = undefined;
  private readonly backend: KernelBackend;
  private readonly gradInput = new ReusableTensor(() => this.backend);
  private lastOutput: Tensor | null = null;
  /** Per (group, channel) of the last training forward: the mean and the biased variance. */
  private means = new Float32Array(0);
  private variances = new Float32Array(0);
  /** The running statistics an eval forward normalised with. */
  private evalMean = new Float32Array(0);
  private evalVariance = new Float32Array(0);
  /** The statistics the last forward used, for its backward. */
  private lastStatistics: { mean: Float32Array; variance: Float32Array } | null = null;
  /** Per (group, channel): mean, then unbiased variance; rows of 2C floats per group. */
  private groupStats = new Float32Array(0);
  private groups = 0;
  private lastTrained = false;

  constructor(numFeatures: number, options: BatchNorm2dOptions = {}) {
    super();
    checkOptions('BatchNorm2d', options, BATCHNORM_OPTIONS);
    this.numFeatures = checkPositiveInteger('BatchNorm2d: numFeatures', numFeatures);
    this.eps = checkFiniteNumber('BatchNorm2d: eps', options.eps ?? 1e-5, 0);
    if (this.eps <= 0) throw new RangeError(`BatchNorm2d: eps must be > 0, got ${this.eps}`);
    this.momentum = checkFiniteNumber('BatchNorm2d: momentum', options.momentum ?? 0.1, 0);
    if (this.momentum > 1) throw new RangeError(`BatchNorm2d: momentum must be in [0, 1], got ${this.momentum}`);
    this.affine = checkBoolean('BatchNorm2d: affine', options.affine, true);
    this.hasWeight = this.affine && checkBoolean('BatchNorm2d: weight', options.weight, true);
    if (!this.affine && options.weight === false) throw new RangeError('BatchNorm2d: weight: false keeps the bias of an affine layer; with affine: false there is neither');
    this.frozen = checkFrozen('BatchNorm2d', options.frozen);
    this.groupSize = checkPositiveInteger('BatchNorm2d: groupSize', options.groupSize ?? DEFAULT_GHOST_GROUP_SIZE);
    this.backend = options.backend ?? referenceBackend;
  }

  override parameterSpecs(): ParameterSpec[] {
    if (!this.affine) return [];
    return [
      ...(this.hasWeight ? [{ name: this.parameterName('weight'), shape: [this.numFeatures] }] : []),
      { name: this.parameterName('bias'), shape: [this.numFeatures] },
    ];
  }

  override batchNormParameters(): string[] {
    return this.parameterSpecs().map((s) => s.name);
  }

  override frozenParameters(): string[] {
    const local = this.frozen === true ? ['weight', 'bias'] : this.frozen === false ? [] : this.frozen;
    const own = this.parameterSpecs().map((s) => s.name);
    return local.map((n) => this.parameterName(n)).filter((n) => own.includes(n));
  }

  override bind(params: ParameterArena, grads: ParameterArena): void {
    if (!this.affine) return;
    const specs = this.parameterSpecs();
    if (this.hasWeight) {
      const weight = this.bindParameter(params, grads, specs[0]);
      this.weight = weight.value.data;
      this.gradWeight = weight.grad.data;
    }
    const bias = this.bindParameter(params, grads, specs[specs.length - 1]);
    this.bias = bias.value.data;
    this.gradBias = bias.grad.data;
  }

  /** PyTorch's initialisation: weight 1, bias 0 (draws nothing from rng). */
  override initialize(_rng: Rng): void {
    if (!this.affine) return;
    this.requireParameters();
    this.weight?.fill(1);
    (this.bias as Float32Array).fill(0);
  }

  /** Applies the ReLU that follows this layer in its own output pass, and masks the gradient by it in backward. */
  fuseReLUAfter(): void {
    this.reluAfter = true;
    this.epilogue = { relu: true };
  }

  override bufferSpecs(): ParameterSpec[] {
    return [
      { name: this.parameterName('running_mean'), shape: [this.numFeatures] },
      { name: this.parameterName('running_var'), shape: [this.numFeatures] },
      { name: this.parameterName('num_batches_tracked'), shape: [1] },
    ];
  }

  override bindBuffers(buffers: ParameterArena): void {
    const [mean, variance, count] = this.bufferSpecs();
    this.runningMean = bindBuffer(buffers, mean);
    this.runningVar = bindBuffer(buffers, variance);
    this.batchesTracked = bindBuffer(buffers, count);
  }

  override resetBuffers(): void {
    const { mean, variance, count } = this.requireBuffers();
    mean.fill(0);
    variance.fill(1);
    count[0] = 0;
  }

  override groupStatisticsSize(): number {
    return 2 * this.numFeatures;
  }

  override writeGroupStatistics(rows: Float32Array, rowSize: number, firstRow: number, column: number): number {
    const size = 2 * this.numFeatures;
    if (!this.lastTrained) throw new Error(`${this.label}: no training forward to take group statistics from`);
    if (rowSize < column + size || rows.length < (firstRow + this.groups) * rowSize) {
      throw new RangeError(`${this.label}: ${rows.length} floats cannot hold rows ${firstRow}..${firstRow + this.groups - 1} with this layer at column ${column}`);
    }
    for (let g = 0; g < this.groups; g++) {
      rows.set(this.groupStats.subarray(g * size, (g + 1) * size), (firstRow + g) * rowSize + column);
    }
    return column + size;
  }

  override applyGroupStatistics(row: Float32Array, column: number): number {
    this.updateRunning(row, column);
    return column + 2 * this.numFeatures;
  }

  forward(x: Tensor): Tensor {
    checkImageInput(this.label, x, this.numFeatures);
    return this.training ? this.forwardTraining(x) : this.forwardEval(x);
  }

  backward(gradOut: Tensor): Tensor {
    checkGradOut(this.label, gradOut, this.lastOutput);
    return this.backwardAll(gradOut);
  }

  /** [start, end) image ranges of this module's ghost groups, checked against the global batch. */
  private groupCount(n: number, hw: number): number {
    const g = this.groupSize;
    const offset = this.stepContext?.batchOffset ?? 0;
    const globalBatch = this.stepContext?.globalBatch ?? offset + n;
    const end = offset + n;
    if (offset % g !== 0 || (end !== globalBatch && end % g !== 0) || end > globalBatch) {
      throw new RangeError(
        `${this.label}: images ${offset}..${end - 1} of a global batch of ${globalBatch} do not lie on ghost-group boundaries ` +
          `(groups of ${g} images); split the batch on multiples of ${g} (a global batch that is a multiple of ${g} x the number of shards always works)`,
      );
    }
    const groups = Math.ceil(n / g);
    const lastSize = n - (groups - 1) * g;
    if (lastSize * hw < 2) {
      throw new RangeError(`${this.label}: a ghost group of ${lastSize} image(s) of ${hw} value(s) per channel has no variance; use a batch whose last group has more than one value per channel`);
    }
    return groups;
  }

  private forwardTraining(x: Tensor): Tensor {
    const [n, c, h, w] = x.shape;
    const hw = h * w;
    const groups = this.groupCount(n, hw);
    const out = this.output.get(x.shape);
    if (this.means.length < groups * c) {
      this.means = new Float32Array(groups * c);
      this.variances = new Float32Array(groups * c);
    }
    if (this.groupStats.length < groups * 2 * c) this.groupStats = new Float32Array(groups * 2 * c);
    const g = { batch: n, channels: c, planeSize: hw, groupSize: this.groupSize };
    this.backend.batchNormForward(g, x.data, this.weight, this.bias, this.eps, this.means, this.variances, out.data, true, this.epilogue);
    for (let grp = 0; grp < groups; grp++) {
      const count = (Math.min(n, (grp + 1) * this.groupSize) - grp * this.groupSize) * hw;
      const statsBase = grp * 2 * c;
      for (let ch = 0; ch < c; ch++) {
        this.groupStats[statsBase + ch] = this.means[grp * c + ch];
        this.groupStats[statsBase + c + ch] = (this.variances[grp * c + ch] * count) / (count - 1);
      }
    }
    this.groups = groups;
    this.lastTrained = true;
    this.lastStatistics = { mean: this.means, variance: this.variances };
    this.input = x;
    this.lastOutput = out;
    if (!this.stepContext?.deferStatistics) {
      for (let grp = 0; grp < groups; grp++) this.updateRunning(this.groupStats, grp * 2 * c);
    }
    return out;
  }

  private forwardEval(x: Tensor): Tensor {
    const [n, c, h, w] = x.shape;
    const { mean, variance } = this.requireBuffers();
    const out = this.output.get(x.shape);
    const g = { batch: n, channels: c, planeSize: h * w, groupSize: n };
    this.backend.batchNormForward(g, x.data, this.weight, this.bias, this.eps, mean, variance, out.data, false, this.epilogue);
    this.groups = 0;
    this.lastTrained = false;
    // copies: the running statistics may move (a later training forward) before this backward
    if (this.evalMean.length < c) {
      this.evalMean = new Float32Array(c);
      this.evalVariance = new Float32Array(c);
    }
    this.evalMean.set(mean.subarray(0, c));
    this.evalVariance.set(variance.subarray(0, c));
    this.lastStatistics = { mean: this.evalMean, variance: this.evalVariance };
    this.input = x;
    this.lastOutput = out;
    return out;
  }

  /**
   * dx through the statistics of the last forward (per ghost group in training, constants in eval),
   * the output gradient masked by a fused ReLU; dgamma = Σ dy·x̂ and dbeta = Σ dy over the whole
   * local batch (OVERWRITTEN, as every layer's).
   */
  private backwardAll(gradOut: Tensor): Tensor {
    const [n, c, h, w] = gradOut.shape;
    const gradIn = this.gradInput.get(gradOut.shape);
    const { mean, variance } = this.lastStatistics as { mean: Float32Array; variance: Float32Array };
    const g = { batch: n, channels: c, planeSize: h * w, groupSize: this.lastTrained ? this.groupSize : n };
    this.backend.batchNormBackward(
      g, (this.input as Tensor).data, gradOut.data, this.reluAfter ? (this.lastOutput as Tensor).data : null,
      this.weight, this.eps, mean, variance, this.lastTrained, gradIn.data, this.gradWeight, this.gradBias,
    );
    return gradIn;
  }

  /** One group's momentum update (PyTorch: running = (1 − m)·running + m·batch, variance unbiased). */
  private updateRunning(stats: Float32Array, column: number): void {
    const { mean, variance, count } = this.requireBuffers();
    const c = this.numFeatures;
    if (stats.length < column + 2 * c) throw new RangeError(`${this.label}: group statistics row too short (${stats.length} < ${column + 2 * c})`);
    const m = this.momentum;
    for (let ch = 0; ch < c; ch++) {
      mean[ch] = (1 - m) * mean[ch] + m * stats[column + ch];
      variance[ch] = (1 - m) * variance[ch] + m * stats[column + c + ch];
    }
    count[0] += 1;
  }

  private requireParameters(): void {
    if ((this.hasWeight && !this.weight) || !this.bias) {
      throw new Error(`${this.label}: parameters are not bound; call bind(params, grads) (or createParameters(model)) first`);
    }
  }

  private requireBuffers(): { mean: Float32Array; variance: Float32Array; count: Float32Array } {
    if (!this.runningMean || !this.runningVar || !this.batchesTracked) {
      throw new Error(`${this.label}: buffers are not bound; call bindBuffers(buffers) (or createBuffers(model)) first`);
    }
    return { mean: this.runningMean, variance: this.runningVar, count: this.batchesTracked };
  }
}

function bindBuffer(buffers: ParameterArena, spec: ParameterSpec): Float32Array {
  const t = buffers.tensor(spec.name);
  if (t.size !== spec.shape.reduce((a, b) => a * b, 1)) {
    throw new RangeError(`buffer ${spec.name}: expected shape ${formatShape(spec.shape)}, got ${formatShape(t.shape)}`);
  }
  return t.data;
}
