import type { KernelBackend } from '../backend';
import {
  Conv2dGeometry,
  Pool2dGeometry,
  conv2dOutputHeight,
  conv2dOutputWidth,
  pool2dOutputHeight,
  pool2dOutputWidth,
  validateConv2dGeometry,
  validatePool2dGeometry,
} from '../shapes';
import { WasmArena } from './arena';
import { instantiateKernels, preferredWasmVariant, type KernelExports, type WasmVariant } from './kernelModule';

const MR = 4; // rows of A per micro-tile (assembly/gemm.ts)
const NR = 8; // columns of B per micro-tile
/** im2col weight gradient: pixels per GEMM depth (measured flat from 256 to 4096 on the recipe shapes). */
const WEIGHT_GRAD_DEPTH = 1024;
/** Winograd weight gradient: tiles per GEMM depth (measured flat, 60-63 GFLOP/s, from 64 to 1024). */
const WINOGRAD_GRAD_TILES = 256;

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

  constructor(options: WasmBackendOptions = {}) {
    this.winograd = options.winograd ?? true;
    this.variant = options.variant ?? preferredWasmVariant();
    this.name = !this.winograd ? 'wasm:im2col' : options.variant ? `wasm:${options.variant}` : 'wasm';
    this.kernels = instantiateKernels(this.variant);
    this.arena = new WasmArena(this.kernels);
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
   * Winograd F(2x2, 3x3) conv of `channels` -> `outChannels` maps (stride 1, padding `pad`) from
   * wasm address `x` to `out`, weights at `w` (flipped and transposed when `flip`: the input
   * gradient). Its workspaces go after the operands of the current arena layout.
   */
  private winogradConv(
    batch: number, channels: number, height: number, width: number, outChannels: number, pad: number,
    flip: boolean, x: number, w: number, bias: number, out: number,
  ): void {
    const outH = height + 2 * pad - 2;
    const outW = width + 2 * pad - 2;
    const tilesH = Math.ceil(outH / 2);
    const tilesW = Math.ceil(outW / 2);
    const rows = roundUp(outChannels, MR);
    const [uPack, padded, panel, products] = this.arena.extend(
      16 * rows * channels, channels * (2 * tilesH + 2) * (2 * tilesW + 2) + 16, 16 * channels * NR, 16 * rows * NR,
    );
    this.kernels.winogradWeights(w, outChannels, channels, flip, uPack);
    this.kernels.conv3x3Winograd(x, uPack, bias, out, batch, channels, height, width, outChannels, pad, padded, panel, products);
  }

  conv2d(g: Conv2dGeometry, input: Float32Array, weight: Float32Array, bias: Float32Array | null, output: Float32Array): void {
    const d = convDims(g, 'conv2d');
    requireLength(input, d.inputSize, 'conv2d input', inputShape(g));
    requireLength(weight, d.weightSize, 'conv2d weight', weightShape(g));
    if (bias) requireLength(bias, g.outChannels, 'conv2d bias', `[${g.outChannels}]`);
    requireLength(output, d.outputSize, 'conv2d output', outputShape(g));
    if (this.usesWinograd(g)) {
      const [x, w, b, out] = this.arena.layout(d.inputSize, d.weightSize, g.outChannels, d.outputSize);
      this.arena.writeF32(x, input, d.inputSize);
      this.arena.writeF32(w, weight, d.weightSize);
      if (bias) this.arena.writeF32(b, bias, g.outChannels);
      this.winogradConv(g.batch, g.inChannels, g.inHeight, g.inWidth, g.outChannels, g.padHeight, false, x, w, bias ? b : 0, out);
      this.arena.readF32(out, output, d.outputSize);
      return;
    }
    const [x, w, b, out, aPack, padded, panel] = this.arena.layout(
      d.inputSize, d.weightSize, g.outChannels, d.outputSize,
      roundUp(g.outChannels, MR) * d.depth, d.paddedImageSize, d.depth * NR,
    );
    this.arena.writeF32(x, input, d.inputSize);
    this.arena.writeF32(w, weight, d.weightSize);
    if (bias) this.arena.writeF32(b, bias, g.outChannels);
    this.kernels.conv2dForward(
      x, w, bias ? b : 0, out, g.batch, g.inChannels, g.inHeight, g.inWidth, g.outChannels,
      g.kernelHeight, g.kernelWidth, g.strideHeight, g.strideWidth, g.padHeight, g.padWidth, aPack, padded, panel,
    );
    this.arena.readF32(out, output, d.outputSize);
  }

  conv2dBackwardInput(g: Conv2dGeometry, gradOutput: Float32Array, weight: Float32Array, gradInput: Float32Array): void {
    const d = convDims(g, 'conv2dBackwardInput');
    requireLength(gradOutput, d.outputSize, 'conv2dBackwardInput gradOutput', outputShape(g));
    requireLength(weight, d.weightSize, 'conv2dBackwardInput weight', weightShape(g));
    requireLength(gradInput, d.inputSize, 'conv2dBackwardInput gradInput', inputShape(g));
    if (this.usesWinograd(g)) {
      // The input gradient of a 3x3 stride-1 conv with padding p is the 3x3 conv of dy with the
      // kernels rotated by 180 degrees and channels swapped, padding 2 - p.
      const [dy, w, dx] = this.arena.layout(d.outputSize, d.weightSize, d.inputSize);
      this.arena.writeF32(dy, gradOutput, d.outputSize);
      this.arena.writeF32(w, weight, d.weightSize);
      this.winogradConv(
        g.batch, g.outChannels, conv2dOutputHeight(g), conv2dOutputWidth(g), g.inChannels, 2 - g.padHeight, true, dy, w, 0, dx,
      );
      this.arena.readF32(dx, gradInput, d.inputSize);
      return;
    }
    const [dy, w, dx, aPack, bPack, col] = this.arena.layout(
      d.outputSize, d.weightSize, d.inputSize,
      roundUp(d.depth, MR) * g.outChannels, roundUp(d.pixels, NR) * g.outChannels, d.depth * d.pixels,
    );
    this.arena.writeF32(dy, gradOutput, d.outputSize);
    this.arena.writeF32(w, weight, d.weightSize);
    this.kernels.conv2dBackwardInput(
      dy, w, dx, g.batch, g.inChannels, g.inHeight, g.inWidth, g.outChannels,
      g.kernelHeight, g.kernelWidth, g.strideHeight, g.strideWidth, g.padHeight, g.padWidth, aPack, bPack, col,
    );
    this.arena.readF32(dx, gradInput, d.inputSize);
  }

  conv2dBackwardWeights(
    g: Conv2dGeometry,
    input: Float32Array,
    gradOutput: Float32Array,
    gradWeight: Float32Array,
    gradBias: Float32Array | null,
  ): void {
    const d = convDims(g, 'conv2dBackwardWeights');
    requireLength(input, d.inputSize, 'conv2dBackwardWeights input', inputShape(g));
    requireLength(gradOutput, d.outputSize, 'conv2dBackwardWeights gradOutput', outputShape(g));
    requireLength(gradWeight, d.weightSize, 'conv2dBackwardWeights gradWeight', weightShape(g));
    if (gradBias) requireLength(gradBias, g.outChannels, 'conv2dBackwardWeights gradBias', `[${g.outChannels}]`);
    if (this.usesWinograd(g)) {
      const [x, dy, dw, db] = this.arena.layout(d.inputSize, d.outputSize, d.weightSize, g.outChannels);
      this.arena.writeF32(x, input, d.inputSize);
      this.arena.writeF32(dy, gradOutput, d.outputSize);
      const outH = conv2dOutputHeight(g);
      const outW = conv2dOutputWidth(g);
      const tilesH = Math.ceil(outH / 2);
      const tilesW = Math.ceil(outW / 2);
      const tiles4 = roundUp(tilesH * tilesW, 4);
      // Enough images per group for a GEMM depth of about WINOGRAD_GRAD_TILES tiles.
      const group = Math.max(1, Math.min(g.batch, Math.floor(WINOGRAD_GRAD_TILES / tiles4)));
      const depth = group * tiles4;
      const [padded, dyEven, aPack, bPack, products] = this.arena.extend(
        group * (g.inChannels * (2 * tilesH + 2) * (2 * tilesW + 2) + 16), g.outChannels * 4 * tilesH * tilesW,
        16 * roundUp(g.outChannels, MR) * depth, 16 * roundUp(g.inChannels, NR) * depth, 16 * g.outChannels * g.inChannels,
      );
      this.kernels.conv3x3WeightGradWinograd(
        x, dy, dw, g.batch, g.inChannels, g.inHeight, g.inWidth, g.outChannels, g.padHeight, group,
        padded, dyEven, aPack, bPack, products,
      );
      if (gradBias) this.kernels.biasGradient(dy, db, g.batch, g.outChannels, d.pixels);
      this.arena.readF32(dw, gradWeight, d.weightSize);
      if (gradBias) this.arena.readF32(db, gradBias, g.outChannels);
      return;
    }
    // Images per weight-gradient GEMM: enough to give the micro-kernel a depth of about
    // WEIGHT_GRAD_DEPTH even on small feature maps, while the [depth][8] panel stays in L1/L2.
    const group = Math.max(1, Math.min(g.batch, Math.floor(WEIGHT_GRAD_DEPTH / d.pixels)));
    const [x, dy, dw, db, aPack, padded, panel] = this.arena.layout(
      d.inputSize, d.outputSize, d.weightSize, g.outChannels,
      roundUp(g.outChannels, MR) * group * d.pixels, group * d.paddedImageSize, group * d.pixels * NR,
    );
    this.arena.writeF32(x, input, d.inputSize);
    this.arena.writeF32(dy, gradOutput, d.outputSize);
    this.kernels.conv2dBackwardWeights(
      x, dy, dw, gradBias ? db : 0, g.batch, g.inChannels, g.inHeight, g.inWidth, g.outChannels,
      g.kernelHeight, g.kernelWidth, g.strideHeight, g.strideWidth, g.padHeight, g.padWidth, group, aPack, padded, panel,
    );
    this.arena.readF32(dw, gradWeight, d.weightSize);
    if (gradBias) this.arena.readF32(db, gradBias, g.outChannels);
  }

  maxPool2d(g: Pool2dGeometry, input: Float32Array, output: Float32Array, argmax: Int32Array): void {
    const d = poolDims(g, 'maxPool2d');
    requireLength(input, d.inputSize, 'maxPool2d input', poolInputShape(g));
    requireLength(output, d.outputSize, 'maxPool2d output', poolOutputShape(g));
    requireLength(argmax, d.outputSize, 'maxPool2d argmax', poolOutputShape(g));
    const [x, out, arg] = this.arena.layout(d.inputSize, d.outputSize, d.outputSize);
    this.arena.writeF32(x, input, d.inputSize);
    this.kernels.maxPool2d(
      x, out, arg, d.planes, g.inHeight, g.inWidth,
      g.kernelHeight, g.kernelWidth, g.strideHeight, g.strideWidth, g.padHeight, g.padWidth,
    );
    this.arena.readF32(out, output, d.outputSize);
    this.arena.readI32(arg, argmax, d.outputSize);
  }

  maxPool2dBackward(g: Pool2dGeometry, gradOutput: Float32Array, argmax: Int32Array, gradInput: Float32Array): void {
    const d = poolDims(g, 'maxPool2dBackward');
    requireLength(gradOutput, d.outputSize, 'maxPool2dBackward gradOutput', poolOutputShape(g));
    requireLength(argmax, d.outputSize, 'maxPool2dBackward argmax', poolOutputShape(g));
    requireLength(gradInput, d.inputSize, 'maxPool2dBackward gradInput', poolInputShape(g));
    const [dy, arg, dx] = this.arena.layout(d.outputSize, d.outputSize, d.inputSize);
    this.arena.writeF32(dy, gradOutput, d.outputSize);
    this.arena.writeI32(arg, argmax, d.outputSize);
    this.kernels.maxPool2dBackward(dy, arg, dx, d.planes, g.inHeight, g.inWidth, d.outputSize / Math.max(d.planes, 1));
    this.arena.readF32(dx, gradInput, d.inputSize);
  }

  avgPool2d(g: Pool2dGeometry, input: Float32Array, output: Float32Array): void {
    const d = poolDims(g, 'avgPool2d');
    requireLength(input, d.inputSize, 'avgPool2d input', poolInputShape(g));
    requireLength(output, d.outputSize, 'avgPool2d output', poolOutputShape(g));
    const [x, out] = this.arena.layout(d.inputSize, d.outputSize);
    this.arena.writeF32(x, input, d.inputSize);
    this.kernels.avgPool2d(
      x, out, d.planes, g.inHeight, g.inWidth,
      g.kernelHeight, g.kernelWidth, g.strideHeight, g.strideWidth, g.padHeight, g.padWidth,
    );
    this.arena.readF32(out, output, d.outputSize);
  }

  avgPool2dBackward(g: Pool2dGeometry, gradOutput: Float32Array, gradInput: Float32Array): void {
    const d = poolDims(g, 'avgPool2dBackward');
    requireLength(gradOutput, d.outputSize, 'avgPool2dBackward gradOutput', poolOutputShape(g));
    requireLength(gradInput, d.inputSize, 'avgPool2dBackward gradInput', poolInputShape(g));
    const [dy, dx] = this.arena.layout(d.outputSize, d.inputSize);
    this.arena.writeF32(dy, gradOutput, d.outputSize);
    this.kernels.avgPool2dBackward(
      dy, dx, d.planes, g.inHeight, g.inWidth,
      g.kernelHeight, g.kernelWidth, g.strideHeight, g.strideWidth, g.padHeight, g.padWidth,
    );
    this.arena.readF32(dx, gradInput, d.inputSize);
  }

  globalAvgPool(batch: number, channels: number, height: number, width: number, input: Float32Array, output: Float32Array): void {
    const planes = batch * channels;
    const planeSize = height * width;
    requireLength(input, planes * planeSize, 'globalAvgPool input', `[${batch}, ${channels}, ${height}, ${width}]`);
    requireLength(output, planes, 'globalAvgPool output', `[${batch}, ${channels}]`);
    const [x, out] = this.arena.layout(planes * planeSize, planes);
    this.arena.writeF32(x, input, planes * planeSize);
    this.kernels.globalAvgPool(x, out, planes, planeSize);
    this.arena.readF32(out, output, planes);
  }

  globalAvgPoolBackward(
    batch: number,
    channels: number,
    height: number,
    width: number,
    gradOutput: Float32Array,
    gradInput: Float32Array,
  ): void {
    const planes = batch * channels;
    const planeSize = height * width;
    requireLength(gradOutput, planes, 'globalAvgPoolBackward gradOutput', `[${batch}, ${channels}]`);
    requireLength(gradInput, planes * planeSize, 'globalAvgPoolBackward gradInput', `[${batch}, ${channels}, ${height}, ${width}]`);
    const [dy, dx] = this.arena.layout(planes, planes * planeSize);
    this.arena.writeF32(dy, gradOutput, planes);
    this.kernels.globalAvgPoolBackward(dy, dx, planes, planeSize);
    this.arena.readF32(dx, gradInput, planes * planeSize);
  }

  /** Bytes of wasm linear memory this backend holds (its workspaces at their high-water mark). */
  get memoryBytes(): number {
    return this.arena.byteLength;
  }
}

/** A new WebAssembly SIMD backend with its own instance and memory (one per thread). */
export function createWasmBackend(options: WasmBackendOptions = {}): WasmBackend {
  return new WasmBackend(options);
}

interface ConvDims {
  inputSize: number;
  weightSize: number;
  outputSize: number;
  pixels: number;
  depth: number;
  /** Floats of one zero-padded input image [C][H + 2padH][W + 2padW]. */
  paddedImageSize: number;
}

function convDims(g: Conv2dGeometry, op: string): ConvDims {
  try {
    validateConv2dGeometry(g);
  } catch (error) {
    throw new RangeError(`${op}: ${(error as Error).message}`);
  }
  const pixels = conv2dOutputHeight(g) * conv2dOutputWidth(g);
  const depth = g.inChannels * g.kernelHeight * g.kernelWidth;
  return {
    inputSize: g.batch * g.inChannels * g.inHeight * g.inWidth,
    weightSize: g.outChannels * depth,
    outputSize: g.batch * g.outChannels * pixels,
    pixels,
    depth,
    paddedImageSize: g.inChannels * (g.inHeight + 2 * g.padHeight) * (g.inWidth + 2 * g.padWidth),
  };
}

function poolDims(g: Pool2dGeometry, op: string): { inputSize: number; outputSize: number; planes: number } {
  try {
    validatePool2dGeometry(g);
  } catch (error) {
    throw new RangeError(`${op}: ${(error as Error).message}`);
  }
  const planes = g.batch * g.channels;
  return {
    planes,
    inputSize: planes * g.inHeight * g.inWidth,
    outputSize: planes * pool2dOutputHeight(g) * pool2dOutputWidth(g),
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

function roundUp(value: number, multiple: number): number {
  return Math.ceil(value / multiple) * multiple;
}
