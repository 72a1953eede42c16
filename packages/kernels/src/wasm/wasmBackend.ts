import type { ConvEpilogue, KernelBackend } from '../backend';
import {
  BatchNormGeometry, batchNormGroups, Conv2dGeometry, Pool2dGeometry, conv2dOutputHeight, conv2dOutputWidth, pool2dOutputHeight,
  pool2dOutputWidth, validateConv2dGeometry, validatePool2dGeometry,
} from '../shapes';
import { WasmArena } from './arena';
import {
  im2colBackwardInputWorkspaces, im2colForwardWorkspaces, im2colWeightGradGroup, im2colWeightGradWorkspaces, type Tiling,
  winogradForwardWorkspaces, winogradTiles, winogradWeightGradGroup, winogradWeightGradWorkspaces,
} from './workspaces';
import { instantiateKernels, preferredWasmVariant, type KernelExports, type WasmVariant } from './kernelModule';

export interface WasmBackendOptions {
  /**
   * Run 3x3 stride-1 convolutions (forward, input and weight gradients) with Winograd F(2x2, 3x3)
   * when both channel counts are at least WINOGRAD_MIN_CHANNELS. Default true; false forces
   * im2col + GEMM everywhere.
   */
  winograd?: boolean;
  /**
   * Which build of the kernels to run (see WasmVariant); default the preferred one (relaxed where
   * the engine has relaxed SIMD). Naming one puts it in the backend's name: 'wasm:relaxed', 'wasm:plain'.
   */
  variant?: WasmVariant;
  /**
   * Bytes of linear memory to reserve (address space; RAM only as written) for `allocate`: arrays
   * that calls read and write in place instead of copying them in and out. Default 0: none, and
   * `allocate` returns null. Memory then never grows past the reservation: a call whose copied
   * operands and workspaces do not fit below the arrays handed out throws a RangeError, so give
   * such an instance the calls whose large operands it holds (`holds`) and copy the rest elsewhere.
   */
  residentBytes?: number;
}

/** Below this many channels the Winograd GEMMs are too thin to beat im2col (the 3-channel stem). */
export const WINOGRAD_MIN_CHANNELS = 8;

/**
 * The WebAssembly SIMD backend (assembly/*.ts): 3x3 stride-1 convs by Winograd F(2x2, 3x3), other
 * convs by im2col + a register-blocked 4x8 f32x4 GEMM, pools as loops (2x2 max-pool vectorised),
 * all inside one wasm instance whose memory is reused across calls. Operands are copied into wasm
 * memory and results copied out (a few percent of a conv's time). Synchronous and single-threaded:
 * create one per worker thread.
 */
export class WasmBackend implements KernelBackend {
  /** 'wasm'; 'wasm:relaxed' or 'wasm:plain' when a variant was asked for; 'wasm:im2col' without Winograd. */
  readonly name: string;
  /** The build of the kernels this backend runs. */
  readonly variant: WasmVariant;
  private readonly kernels: KernelExports;
  private readonly arena: WasmArena;
  private readonly winograd: boolean;
  /** The micro-kernel's MR x NR, as the module exports it: workspace sizes depend on it. */
  private readonly tiling: Tiling;
  private readonly residentBytes: number;

  constructor(options: WasmBackendOptions = {}) {
    this.winograd = options.winograd ?? true;
    this.variant = options.variant ?? preferredWasmVariant();
    this.name = !this.winograd ? 'wasm:im2col' : options.variant ? `wasm:${options.variant}` : 'wasm';
    this.kernels = instantiateKernels(this.variant);
    this.arena = new WasmArena(this.kernels);
    this.tiling = { mr: this.kernels.MR.value, nr: this.kernels.NR.value };
    this.residentBytes = options.residentBytes ?? 0;
  }

  /** KernelBackend.allocate: an array in this instance's memory (see WasmBackendOptions.residentBytes). */
  allocate(length: number): Float32Array | null {
    if (this.residentBytes <= 0 || !this.arena.reserve(this.residentBytes)) return null;
    return this.arena.allocate(length);
  }

  /** Whether every array given (nulls aside) lies in this instance's memory, so a call copies none of them. */
  holds(...arrays: Array<Float32Array | Int32Array | null>): boolean {
    return arrays.every((a) => a === null || this.arena.addressOf(a) >= 0);
  }

  /** Whether the convs of this geometry (forward and both gradients) take the Winograd path. */
  usesWinograd(g: Conv2dGeometry): boolean {
    return (
      this.winograd && g.kernelHeight === 3 && g.kernelWidth === 3 && g.strideHeight === 1 && g.strideWidth === 1 &&
      g.padHeight === g.padWidth && g.padHeight <= 2 &&
      Math.min(g.inChannels, g.outChannels) >= WINOGRAD_MIN_CHANNELS
    );
  }

  /**
   * The one marshalling path of every op: lays the operands out in wasm memory (in order), copies
   * the inputs in, runs `kernel` with their byte addresses, and copies the outputs out. A null
   * input or output is passed as address 0 (the kernels read that as "absent"); an array that
   * lies in this memory already (allocate) is passed at its own address and not copied.
   */
  private call(operands: readonly Operand[], kernel: (...addresses: number[]) => void): void {
    // an array already in this memory (allocate) is used where it lies: nothing to copy
    const resident = operands.map((o) => (o.array === null ? 0 : this.arena.addressOf(o.array)));
    const addresses = this.arena.layout(...operands.map((o, i) => (resident[i] >= 0 ? 0 : o.size)));
    operands.forEach((o, i) => {
      if (resident[i] >= 0) addresses[i] = resident[i];
      else if (o.role === 'in') this.arena.write(addresses[i], o.array as Float32Array | Int32Array, o.size);
    });
    kernel(...addresses);
    operands.forEach((o, i) => {
      if (o.role === 'out' && resident[i] < 0) this.arena.read(addresses[i], o.array as Float32Array | Int32Array, o.size);
    });
  }

  /**
   * Winograd F(2x2, 3x3) conv of `channels` -> `outChannels` maps (stride 1, padding `pad`) of
   * `x` into `out`, with weights `w` (flipped and transposed when `flip`: the input gradient), the
   * output rectified when `relu` and zeroed where `mask` (shaped like out) is +0.
   */
  private winogradConv(
    batch: number, channels: number, height: number, width: number, outChannels: number, pad: number, flip: boolean,
    x: Float32Array, w: Float32Array, bias: Float32Array | null, out: Float32Array, relu: boolean, mask: Float32Array | null,
  ): void {
    const inputSize = batch * channels * height * width;
    const { outH, outW } = winogradTiles(height, width, pad);
    const outSize = batch * outChannels * outH * outW;
    const ws = winogradForwardWorkspaces(this.tiling, channels, height, width, outChannels, pad);
    this.call(
      [input(x, inputSize), input(w, outChannels * channels * 9), input(bias, outChannels), output(out, outSize), input(mask, outSize),
        workspace(ws.uPack), workspace(ws.padded), workspace(ws.panel), workspace(ws.products)],
      (xA, wA, bA, outA, maskA, uPack, padded, panel, products) => {
        this.kernels.winogradWeights(wA, outChannels, channels, flip, uPack);
        this.kernels.conv3x3Winograd(xA, uPack, bA, outA, batch, channels, height, width, outChannels, pad, relu, maskA, padded, panel, products);
      },
    );
  }

  conv2d(
    g: Conv2dGeometry, inputs: Float32Array, weight: Float32Array, bias: Float32Array | null, outputs: Float32Array, epilogue?: ConvEpilogue,
  ): void {
    const relu = epilogue?.relu ?? false;
    const d = checkConvOperands(g, 'conv2d', { input: inputs, weight, bias, output: outputs });
    if (this.usesWinograd(g)) {
      this.winogradConv(g.batch, g.inChannels, g.inHeight, g.inWidth, g.outChannels, g.padHeight, false, inputs, weight, bias, outputs, relu, null);
      return;
    }
    const ws = im2colForwardWorkspaces(this.tiling, g);
    this.call(
      [input(inputs, d.inputSize), input(weight, d.weightSize), input(bias, g.outChannels), output(outputs, d.outputSize),
        workspace(ws.aPack), workspace(ws.padded), workspace(ws.panel)],
      (x, w, b, out, aPack, padded, panel) => this.kernels.conv2dForward(
        x, w, b, out, g.batch, g.inChannels, g.inHeight, g.inWidth, g.outChannels,
        g.kernelHeight, g.kernelWidth, g.strideHeight, g.strideWidth, g.padHeight, g.padWidth, relu, aPack, padded, panel,
      ),
    );
  }

  conv2dBackwardInput(
    g: Conv2dGeometry, gradOutput: Float32Array, weight: Float32Array, gradInput: Float32Array, reluMask?: Float32Array | null,
  ): void {
    const mask = reluMask ?? null;
    const d = checkConvOperands(g, 'conv2dBackwardInput', { reluMask: mask, gradOutput, weight, gradInput });
    if (this.usesWinograd(g)) {
      // The input gradient of a 3x3 stride-1 conv with padding p is the 3x3 conv of dy with the
      // kernels rotated by 180 degrees and channels swapped, padding 2 - p.
      this.winogradConv(
        g.batch, g.outChannels, conv2dOutputHeight(g), conv2dOutputWidth(g), g.inChannels, 2 - g.padHeight, true,
        gradOutput, weight, null, gradInput, false, mask,
      );
      return;
    }
    const ws = im2colBackwardInputWorkspaces(this.tiling, g);
    this.call(
      [input(gradOutput, d.outputSize), input(weight, d.weightSize), output(gradInput, d.inputSize), input(mask, d.inputSize),
        workspace(ws.aPack), workspace(ws.bPack), workspace(ws.col)],
      (dy, w, dx, maskA, aPack, bPack, col) => this.kernels.conv2dBackwardInput(
        dy, w, dx, g.batch, g.inChannels, g.inHeight, g.inWidth, g.outChannels,
        g.kernelHeight, g.kernelWidth, g.strideHeight, g.strideWidth, g.padHeight, g.padWidth, maskA, aPack, bPack, col,
      ),
    );
  }

  conv2dBackwardWeights(
    g: Conv2dGeometry, inputs: Float32Array, gradOutput: Float32Array, gradWeight: Float32Array, gradBias: Float32Array | null,
  ): void {
    const d = checkConvOperands(g, 'conv2dBackwardWeights', { input: inputs, gradOutput, gradWeight, gradBias });
    const operands = [input(inputs, d.inputSize), input(gradOutput, d.outputSize), output(gradWeight, d.weightSize), output(gradBias, g.outChannels)];
    if (this.usesWinograd(g)) {
      const group = winogradWeightGradGroup(g);
      const ws = winogradWeightGradWorkspaces(this.tiling, g, group);
      this.call(
        [...operands, workspace(ws.padded), workspace(ws.dyEven), workspace(ws.aPack), workspace(ws.bPack), workspace(ws.products)],
        (x, dy, dw, db, padded, dyEven, aPack, bPack, products) => {
          this.kernels.conv3x3WeightGradWinograd(
            x, dy, dw, g.batch, g.inChannels, g.inHeight, g.inWidth, g.outChannels, g.padHeight, group,
            padded, dyEven, aPack, bPack, products,
          );
          if (db !== 0) this.kernels.biasGradient(dy, db, g.batch, g.outChannels, d.pixels);
        },
      );
      return;
    }
    const group = im2colWeightGradGroup(g);
    const ws = im2colWeightGradWorkspaces(this.tiling, g, group);
    this.call(
      [...operands, workspace(ws.aPack), workspace(ws.padded), workspace(ws.panel)],
      (x, dy, dw, db, aPack, padded, panel) => this.kernels.conv2dBackwardWeights(
        x, dy, dw, db, g.batch, g.inChannels, g.inHeight, g.inWidth, g.outChannels,
        g.kernelHeight, g.kernelWidth, g.strideHeight, g.strideWidth, g.padHeight, g.padWidth, group, aPack, padded, panel,
      ),
    );
  }

  maxPool2d(g: Pool2dGeometry, inputs: Float32Array, outputs: Float32Array, argmax: Int32Array): void {
    const d = checkPoolOperands(g, 'maxPool2d', { input: inputs, output: outputs, argmax });
    this.call([input(inputs, d.inputSize), output(outputs, d.outputSize), output(argmax, d.outputSize)], (x, out, arg) =>
      this.kernels.maxPool2d(x, out, arg, d.planes, g.inHeight, g.inWidth, g.kernelHeight, g.kernelWidth, g.strideHeight, g.strideWidth, g.padHeight, g.padWidth),
    );
  }

  maxPool2dBackward(g: Pool2dGeometry, gradOutput: Float32Array, argmax: Int32Array, gradInput: Float32Array): void {
    const d = checkPoolOperands(g, 'maxPool2dBackward', { gradOutput, argmax, gradInput });
    this.call([input(gradOutput, d.outputSize), input(argmax, d.outputSize), output(gradInput, d.inputSize)], (dy, arg, dx) =>
      this.kernels.maxPool2dBackward(dy, arg, dx, d.planes, g.inHeight, g.inWidth, d.outputSize / Math.max(d.planes, 1)),
    );
  }

  avgPool2d(g: Pool2dGeometry, inputs: Float32Array, outputs: Float32Array): void {
    const d = checkPoolOperands(g, 'avgPool2d', { input: inputs, output: outputs });
    this.call([input(inputs, d.inputSize), output(outputs, d.outputSize)], (x, out) =>
      this.kernels.avgPool2d(x, out, d.planes, g.inHeight, g.inWidth, g.kernelHeight, g.kernelWidth, g.strideHeight, g.strideWidth, g.padHeight, g.padWidth),
    );
  }

  avgPool2dBackward(g: Pool2dGeometry, gradOutput: Float32Array, gradInput: Float32Array): void {
    const d = checkPoolOperands(g, 'avgPool2dBackward', { gradOutput, gradInput });
    this.call([input(gradOutput, d.outputSize), output(gradInput, d.inputSize)], (dy, dx) =>
      this.kernels.avgPool2dBackward(dy, dx, d.planes, g.inHeight, g.inWidth, g.kernelHeight, g.kernelWidth, g.strideHeight, g.strideWidth, g.padHeight, g.padWidth),
    );
  }

  globalAvgPool(batch: number, channels: number, height: number, width: number, inputs: Float32Array, outputs: Float32Array): void {
    const planes = batch * channels;
    const planeSize = height * width;
    requireLength(inputs, planes * planeSize, 'globalAvgPool input', `[${batch}, ${channels}, ${height}, ${width}]`);
    requireLength(outputs, planes, 'globalAvgPool output', `[${batch}, ${channels}]`);
    this.call([input(inputs, planes * planeSize), output(outputs, planes)], (x, out) => this.kernels.globalAvgPool(x, out, planes, planeSize));
  }

  globalAvgPoolBackward(batch: number, channels: number, height: number, width: number, gradOutput: Float32Array, gradInput: Float32Array): void {
    const planes = batch * channels;
    const planeSize = height * width;
    requireLength(gradOutput, planes, 'globalAvgPoolBackward gradOutput', `[${batch}, ${channels}]`);
    requireLength(gradInput, planes * planeSize, 'globalAvgPoolBackward gradInput', `[${batch}, ${channels}, ${height}, ${width}]`);
    this.call([input(gradOutput, planes), output(gradInput, planes * planeSize)], (dy, dx) => this.kernels.globalAvgPoolBackward(dy, dx, planes, planeSize));
  }

  batchNormForward(
    g: BatchNormGeometry, inputs: Float32Array, weight: Float32Array | null, bias: Float32Array | null, eps: number,
    mean: Float32Array, variance: Float32Array, outputs: Float32Array, training: boolean, epilogue?: ConvEpilogue,
  ): void {
    const d = batchNormDims(g, training, 'batchNormForward');
    requireLength(inputs, d.size, 'batchNormForward input', d.shape);
    requireLength(outputs, d.size, 'batchNormForward output', d.shape);
    requireLength(mean, d.statistics, 'batchNormForward mean', d.statisticsShape);
    requireLength(variance, d.statistics, 'batchNormForward variance', d.statisticsShape);
    if (weight) requireLength(weight, g.channels, 'batchNormForward weight', `[${g.channels}]`);
    if (bias) requireLength(bias, g.channels, 'batchNormForward bias', `[${g.channels}]`);
    const statistic = training ? output : input;
    this.call(
      [input(inputs, d.size), input(weight, g.channels), input(bias, g.channels), statistic(mean, d.statistics), statistic(variance, d.statistics), output(outputs, d.size)],
      (x, w, b, m, v, out) => this.kernels.batchNormForward(
        x, w, b, eps, m, v, out, g.batch, g.channels, g.planeSize, g.groupSize, training, epilogue?.relu ?? false,
      ),
    );
  }

  batchNormBackward(
    g: BatchNormGeometry, inputs: Float32Array, gradOutput: Float32Array, reluOutput: Float32Array | null,
    weight: Float32Array | null, eps: number, mean: Float32Array, variance: Float32Array, training: boolean,
    gradInput: Float32Array, gradWeight: Float32Array | null, gradBias: Float32Array | null,
  ): void {
    const d = batchNormDims(g, training, 'batchNormBackward');
    requireLength(inputs, d.size, 'batchNormBackward input', d.shape);
    requireLength(gradOutput, d.size, 'batchNormBackward gradOutput', d.shape);
    if (reluOutput) requireLength(reluOutput, d.size, 'batchNormBackward reluOutput', d.shape);
    requireLength(gradInput, d.size, 'batchNormBackward gradInput', d.shape);
    requireLength(mean, d.statistics, 'batchNormBackward mean', d.statisticsShape);
    requireLength(variance, d.statistics, 'batchNormBackward variance', d.statisticsShape);
    for (const [array, what] of [[weight, 'weight'], [gradWeight, 'gradWeight'], [gradBias, 'gradBias']] as const) {
      if (array) requireLength(array, g.channels, `batchNormBackward ${what}`, `[${g.channels}]`);
    }
    this.call(
      [input(inputs, d.size), input(gradOutput, d.size), input(reluOutput, d.size), input(weight, g.channels),
        input(mean, d.statistics), input(variance, d.statistics), output(gradInput, d.size), output(gradWeight, g.channels), output(gradBias, g.channels)],
      (x, dy, r, w, m, v, dx, dw, db) => this.kernels.batchNormBackward(
        x, dy, r, w, eps, m, v, dx, dw, db, g.batch, g.channels, g.planeSize, g.groupSize, training,
      ),
    );
  }

  /** Bytes of wasm linear memory this backend holds (its workspaces at their high-water mark). */
  get memoryBytes(): number {
    return this.arena.byteLength;
  }
}

/** One operand of a kernel call: copied in, copied out, or scratch space the kernel writes and reads. */
interface Operand {
  role: 'in' | 'out' | 'work';
  array: Float32Array | Int32Array | null;
  /** Elements (4 bytes each) laid out in wasm memory. */
  size: number;
}

const SCRATCH = new Float32Array(0);
const input = (array: Float32Array | Int32Array | null, size: number): Operand => ({ role: 'in', array, size });
const output = (array: Float32Array | Int32Array | null, size: number): Operand => ({ role: 'out', array, size });
const workspace = (size: number): Operand => ({ role: 'work', array: SCRATCH, size });

/** A new WebAssembly SIMD backend with its own instance and memory (one per thread). */
export function createWasmBackend(options: WasmBackendOptions = {}): WasmBackend {
  return new WasmBackend(options);
}

interface ConvDims {
  inputSize: number;
  weightSize: number;
  outputSize: number;
  pixels: number;
}

/** Runs a geometry check, its error prefixed with the op's name. */
function checkGeometry<T>(op: string, check: () => T): T {
  try {
    return check();
  } catch (error) {
    throw new RangeError(`${op}: ${(error as Error).message}`);
  }
}

function convDims(g: Conv2dGeometry, op: string): ConvDims {
  checkGeometry(op, () => validateConv2dGeometry(g));
  const pixels = conv2dOutputHeight(g) * conv2dOutputWidth(g);
  const depth = g.inChannels * g.kernelHeight * g.kernelWidth;
  return {
    inputSize: g.batch * g.inChannels * g.inHeight * g.inWidth,
    weightSize: g.outChannels * depth,
    outputSize: g.batch * g.outChannels * pixels,
    pixels,
  };
}

/** Which tensor of a conv each operand name is: its length and shape come from that tensor's. */
const CONV_OPERAND_TENSOR = {
  input: 'input', gradInput: 'input', reluMask: 'input', weight: 'weight', gradWeight: 'weight',
  output: 'output', gradOutput: 'output', bias: 'bias', gradBias: 'bias',
} as const;

/**
 * The sizes of a conv's tensors, after checking the geometry and each operand given (in order; a
 * null operand is absent) against them: an error names the op, the operand and the shape.
 */
function checkConvOperands(
  g: Conv2dGeometry, op: string, operands: Partial<Record<keyof typeof CONV_OPERAND_TENSOR, Float32Array | null>>,
): ConvDims {
  const d = convDims(g, op);
  for (const [name, array] of Object.entries(operands)) {
    const tensor = CONV_OPERAND_TENSOR[name as keyof typeof CONV_OPERAND_TENSOR];
    const size = tensor === 'input' ? d.inputSize : tensor === 'weight' ? d.weightSize : tensor === 'output' ? d.outputSize : g.outChannels;
    // the message is built only on failure: these checks run on every call
    if (array && array.length < size) {
      const shape = tensor === 'input' ? inputShape(g) : tensor === 'weight' ? weightShape(g) : tensor === 'output' ? outputShape(g) : `[${g.outChannels}]`;
      requireLength(array, size, `${op} ${name}`, shape);
    }
  }
  return d;
}

/** checkConvOperands for a pooling: the input-shaped and the output-shaped operands (argmax is output-shaped). */
function checkPoolOperands(
  g: Pool2dGeometry, op: string, operands: Partial<Record<'input' | 'gradInput' | 'output' | 'gradOutput' | 'argmax', Float32Array | Int32Array>>,
): PoolDims {
  const d = poolDims(g, op);
  for (const [name, array] of Object.entries(operands)) {
    const inputShaped = name === 'input' || name === 'gradInput';
    const size = inputShaped ? d.inputSize : d.outputSize;
    if (array.length < size) requireLength(array, size, `${op} ${name}`, inputShaped ? poolInputShape(g) : poolOutputShape(g));
  }
  return d;
}

interface PoolDims {
  inputSize: number;
  outputSize: number;
  planes: number;
}

function poolDims(g: Pool2dGeometry, op: string): PoolDims {
  checkGeometry(op, () => validatePool2dGeometry(g));
  const planes = g.batch * g.channels;
  return {
    planes,
    inputSize: planes * g.inHeight * g.inWidth,
    outputSize: planes * pool2dOutputHeight(g) * pool2dOutputWidth(g),
  };
}

/** Floats of the tensors and of the statistics ([groups, channels] in training, [channels] in eval). */
function batchNormDims(g: BatchNormGeometry, training: boolean, op: string): { size: number; statistics: number; shape: string; statisticsShape: string } {
  const groups = training ? checkGeometry(op, () => batchNormGroups(g)) : 1;
  return {
    size: g.batch * g.channels * g.planeSize,
    statistics: groups * g.channels,
    shape: `[${g.batch}, ${g.channels}, H×W = ${g.planeSize}]`,
    statisticsShape: training ? `[${groups}, ${g.channels}]` : `[${g.channels}]`,
  };
}

function requireLength(array: Float32Array | Int32Array, expected: number, what: string, shape: string): void {
  if (array.length < expected) {
    throw new RangeError(
      `${what}: expected at least ${expected} elements (shape ${shape}), got ${array.length}; allocate it from the geometry`,
    );
  }
}

const inputShape = (g: Conv2dGeometry) => `[${g.batch}, ${g.inChannels}, ${g.inHeight}, ${g.inWidth}]`;
const weightShape = (g: Conv2dGeometry) => `[${g.outChannels}, ${g.inChannels}, ${g.kernelHeight}, ${g.kernelWidth}]`;
const outputShape = (g: Conv2dGeometry) => `[${g.batch}, ${g.outChannels}, ${conv2dOutputHeight(g)}, ${conv2dOutputWidth(g)}]`;
const poolInputShape = (g: Pool2dGeometry) => `[${g.batch}, ${g.channels}, ${g.inHeight}, ${g.inWidth}]`;
const poolOutputShape = (g: Pool2dGeometry) => `[${g.batch}, ${g.channels}, ${pool2dOutputHeight(g)}, ${pool2dOutputWidth(g)}]`;

