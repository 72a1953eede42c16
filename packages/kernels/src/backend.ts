import type { BatchNormGeometry, Conv2dGeometry, Pool2dGeometry } from './shapes';

/** What conv2d applies to every output element after the bias, inside its output pass. */
export interface ConvEpilogue {
  /** max(0, y) on the float bits (negative values and -0 give +0; the canonical NaN passes), as nn's ReLU. */
  relu?: boolean;
}

/**
 * The one interface every kernel backend implements (reference, wasm, gpujs).
 *
 * Arrays are flat NCHW float32, caller-allocated: a backend never allocates per call in the hot loop
 * (it may keep and grow its own workspace). Every method OVERWRITES its outputs (no accumulation).
 * Calls are synchronous: inside a piscina worker each backend computes single-threaded. (A GPU
 * backend that must be awaited wraps this contract; see the kernels README.)
 */
export interface KernelBackend {
  /** 'reference' | 'wasm' | 'gpujs:<mode>' ... shown to users when `--backend auto` picks one. */
  readonly name: string;

  /**
   * output[N, outC, outH, outW] = input (*) weight[outC, inC, kH, kW] + bias[outC] (bias may be
   * null), then the epilogue (a fused ReLU) when given.
   */
  conv2d(
    g: Conv2dGeometry, input: Float32Array, weight: Float32Array, bias: Float32Array | null, output: Float32Array, epilogue?: ConvEpilogue,
  ): void;

  /**
   * gradInput[N, inC, H, W] from gradOutput[N, outC, outH, outW] and weight. With `reluMask` (the
   * conv's forward input, when that is a ReLU's output), gradInput is 0 wherever reluMask is +0: the
   * backward pass of that ReLU, fused into this output pass.
   */
  conv2dBackwardInput(
    g: Conv2dGeometry, gradOutput: Float32Array, weight: Float32Array, gradInput: Float32Array, reluMask?: Float32Array | null,
  ): void;

  /** gradWeight[outC, inC, kH, kW] and gradBias[outC] (when not null), summed over the batch. */
  conv2dBackwardWeights(g: Conv2dGeometry, input: Float32Array, gradOutput: Float32Array, gradWeight: Float32Array, gradBias: Float32Array | null): void;

  /**
   * Max pooling. argmax[i] receives the flat index, within its own (n, c) input plane
   * (y * inWidth + x), of the element that won output i; padding never wins. Ties go to the first
   * element in row-major window order (as PyTorch).
   */
  maxPool2d(g: Pool2dGeometry, input: Float32Array, output: Float32Array, argmax: Int32Array): void;
  maxPool2dBackward(g: Pool2dGeometry, gradOutput: Float32Array, argmax: Int32Array, gradInput: Float32Array): void;

  /** Average pooling; padded cells count in the divisor (PyTorch's count_include_pad=True). */
  avgPool2d(g: Pool2dGeometry, input: Float32Array, output: Float32Array): void;
  avgPool2dBackward(g: Pool2dGeometry, gradOutput: Float32Array, gradInput: Float32Array): void;

  /** Global average pooling: [N, C, H, W] -> [N, C]. */
  globalAvgPool(batch: number, channels: number, height: number, width: number, input: Float32Array, output: Float32Array): void;
  globalAvgPoolBackward(batch: number, channels: number, height: number, width: number, gradOutput: Float32Array, gradInput: Float32Array): void;

  /**
   * Batch normalisation of `g.batch` images of `g.channels` planes of `g.planeSize` floats. Training:
   * per ghost group (consecutive runs of `g.groupSize` images, the last may be shorter) and channel,
   * writes the mean and the biased variance to mean/variance[group * channels + channel] and
   * normalises the group with them. Eval (`training` false): normalises every image with the
   * given mean/variance[channel]. output = (x − mean)/sqrt(variance + eps)·weight + bias (weight 1
   * and bias 0 when null), then the epilogue (a fused ReLU) when given.
   */
  batchNormForward(
    g: BatchNormGeometry, input: Float32Array, weight: Float32Array | null, bias: Float32Array | null, eps: number,
    mean: Float32Array, variance: Float32Array, output: Float32Array, training: boolean, epilogue?: ConvEpilogue,
  ): void;

  /**
   * The gradients of batchNormForward, with the statistics it used (as it wrote or read them). The
   * output gradient is first zeroed where `reluOutput` (the forward's output, when it fused a ReLU)
   * is +0. gradInput per group (training: through the group's mean and variance; eval: the
   * statistics are constants); gradWeight (Σ dy·x̂) and gradBias (Σ dy) over the whole batch, when
   * not null.
   */
  batchNormBackward(
    g: BatchNormGeometry, input: Float32Array, gradOutput: Float32Array, reluOutput: Float32Array | null,
    weight: Float32Array | null, eps: number, mean: Float32Array, variance: Float32Array, training: boolean,
    gradInput: Float32Array, gradWeight: Float32Array | null, gradBias: Float32Array | null,
  ): void;

  /**
   * Zero-filled storage of `length` floats that this backend's kernels read and write in place (for
   * the wasm kernels: inside their linear memory, so a call copies nothing in or out), for the
   * arrays a layer keeps and reuses (outputs, input gradients). null when the backend has no room
   * left; absent when every array serves equally. Any array works with every method either way.
   */
  allocate?(length: number): Float32Array | null;

  /** Frees workspaces and device resources. Optional for CPU backends. */
  dispose?(): void;
}
