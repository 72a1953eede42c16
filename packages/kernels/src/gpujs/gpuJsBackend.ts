import { GPU, type IKernelRunShortcut } from 'gpu.js';
import type { ConvEpilogue, KernelBackend } from '../backend';
import { maskByReluOutput, reluInPlace } from '../epilogue';
import { batchNormBackward, batchNormForward } from '../reference/batchNorm';
import {
  type Conv2dGeometry, type Pool2dGeometry, type WindowGeometry, conv2dOutputHeight, conv2dOutputWidth, pool2dOutputHeight,
  pool2dOutputWidth, validateConv2dGeometry, validatePool2dGeometry,
} from '../shapes';
import {
  avgPoolBackwardSource,
  avgPoolForwardSource,
  conv2dBackwardBiasSource,
  conv2dBackwardInputSource,
  conv2dBackwardWeightsSource,
  conv2dForwardSource,
  globalAvgPoolBackwardSource,
  globalAvgPoolSource,
  maxPoolArgmaxSource,
  maxPoolBackwardSource,
  maxPoolValueSource,
} from './kernelSources';
import { type GpuJsMode, type ResolvedGpuJsMode, parseGpuJsMode, resolvedModeOfKernelClass } from './modes';
import { headlessGlUnavailableReason, probeGpuJsMode } from './probe';

export interface GpuJsBackendOptions {
  /** gpu.js mode by its gpu.js name (`wasm` is accepted for `webasm`). Default `gpu`: GL if it works here, else WebAssembly. */
  mode?: GpuJsMode | 'wasm';
  /**
   * When false (default), a kernel that gpu.js moves to another backend than the one this
   * instance resolved to (its silent CPU fallback) throws, naming gpu.js's reason, instead of
   * quietly computing elsewhere. Set true to accept the fallback; `kernelModes()` still says where
   * each kernel ran.
   */
  allowFallback?: boolean;
}

/** One compiled gpu.js kernel for one op at one geometry, reused for every call at that geometry. */
interface CachedKernel {
  readonly label: string;
  readonly run: IKernelRunShortcut;
  readonly outputLength: number;
  /** Where it ran on its first call (null before the first call). */
  ranOn: ResolvedGpuJsMode | null;
}

type KernelArgument = Float32Array;

/**
 * KernelBackend over gpu.js kernels: every op in every gpu.js mode that can run synchronously
 * (headlessgl, webgl, webgl2, webasm, cpu; WebGPU is Promise-only and is refused with the reason).
 *
 * gpu.js kernels return new arrays; each call copies the result into the caller's output (the
 * KernelBackend contract). Kernels are compiled once per (op, geometry) and cached: geometry is
 * baked into the kernel as constants so GLSL loops have fixed bounds.
 */
export class GpuJsBackend implements KernelBackend {
  readonly name: string;
  /** The mode asked for (after the `wasm` alias). */
  readonly requestedMode: GpuJsMode;
  /** The mode gpu.js resolved it to: what kernels are built for. */
  readonly mode: ResolvedGpuJsMode;

  private readonly gpu: GPU;
  private readonly allowFallback: boolean;
  private readonly kernels = new Map<string, CachedKernel>();
  private readonly zeroBias = new Map<number, Float32Array>();
  private argmaxAsFloat = new Float32Array(0);

  constructor(options: GpuJsBackendOptions = {}) {
    this.requestedMode = parseGpuJsMode(options.mode ?? 'gpu');
    this.allowFallback = options.allowFallback ?? false;
    if (this.requestedMode === 'webgpu') {
      throw new Error(`gpu.js webgpu mode cannot back the synchronous KernelBackend: ${probeGpuJsMode('webgpu').reason}`);
    }
    if (this.requestedMode === 'headlessgl') {
      const whyNot = headlessGlUnavailableReason();
      if (whyNot) throw new Error(`gpu.js headlessgl mode is not available: ${whyNot}`);
    }
    try {
      this.gpu = new GPU({ mode: this.requestedMode });
    } catch (error) {
      throw new Error(
        `gpu.js cannot start in ${this.requestedMode} mode: ${(error as Error).message}. ` +
          'Call gpuJsModesAvailable() to see which modes work here and why the others do not.',
      );
    }
    this.mode = resolvedModeOfKernelClass((this.gpu as unknown as { Kernel: { name: string } }).Kernel);
    this.name = `gpujs:${this.mode}`;
  }

  /** Where every cached kernel ran on its first call, e.g. `{ 'conv2d 2x3x8x8...': 'headlessgl' }`. */
  kernelModes(): Record<string, ResolvedGpuJsMode | null> {
    const modes: Record<string, ResolvedGpuJsMode | null> = {};
    for (const kernel of this.kernels.values()) modes[kernel.label] = kernel.ranOn;
    return modes;
  }

  conv2d(g: Conv2dGeometry, input: Float32Array, weight: Float32Array, bias: Float32Array | null, output: Float32Array, epilogue?: ConvEpilogue): void {
    const c = convConstants(g);
    expectLength('conv2d input', input, c.batch * c.inC * c.inH * c.inW, '[N, inC, H, W]');
    expectLength('conv2d weight', weight, c.outC * c.filterSize, '[outC, inC, kH, kW]');
    if (bias) expectLength('conv2d bias', bias, c.outC, '[outC]');
    const outLength = c.batch * c.outImage;
    expectLength('conv2d output', output, outLength, '[N, outC, outH, outW]');
    const kernel = this.kernel('conv2d', g, conv2dForwardSource, outLength, c, [c.inC, c.kH, c.kW]);
    this.runInto(kernel, [input, weight, bias ?? this.zeros(c.outC)], output);
    if (epilogue?.relu) reluInPlace(output, outLength);
  }

  conv2dBackwardInput(g: Conv2dGeometry, gradOutput: Float32Array, weight: Float32Array, gradInput: Float32Array, reluMask?: Float32Array | null): void {
    const c = convConstants(g);
    expectLength('conv2dBackwardInput gradOutput', gradOutput, c.batch * c.outImage, '[N, outC, outH, outW]');
    expectLength('conv2dBackwardInput weight', weight, c.outC * c.filterSize, '[outC, inC, kH, kW]');
    const inLength = c.batch * c.inImage;
    expectLength('conv2dBackwardInput gradInput', gradInput, inLength, '[N, inC, H, W]');
    const kernel = this.kernel('conv2dBackwardInput', g, conv2dBackwardInputSource, inLength, c, [c.outC, c.kH, c.kW]);
    this.runInto(kernel, [gradOutput, weight], gradInput);
    if (reluMask) {
      expectLength('conv2dBackwardInput reluMask', reluMask, inLength, '[N, inC, H, W]');
      maskByReluOutput(gradInput, reluMask, inLength);
    }
  }

  conv2dBackwardWeights(g: Conv2dGeometry, input: Float32Array, gradOutput: Float32Array, gradWeight: Float32Array, gradBias: Float32Array | null): void {
    const c = convConstants(g);
    expectLength('conv2dBackwardWeights input', input, c.batch * c.inImage, '[N, inC, H, W]');
    expectLength('conv2dBackwardWeights gradOutput', gradOutput, c.batch * c.outImage, '[N, outC, outH, outW]');
    expectLength('conv2dBackwardWeights gradWeight', gradWeight, c.outC * c.filterSize, '[outC, inC, kH, kW]');
    if (gradBias) expectLength('conv2dBackwardWeights gradBias', gradBias, c.outC, '[outC]');
    const loops = [c.batch, c.outH, c.outW];
    const weights = this.kernel('conv2dBackwardWeights', g, conv2dBackwardWeightsSource, c.outC * c.filterSize, c, loops);
    this.runInto(weights, [input, gradOutput], gradWeight);
    if (gradBias) {
      const biases = this.kernel('conv2dBackwardBias', g, conv2dBackwardBiasSource, c.outC, c, loops);
      this.runInto(biases, [gradOutput], gradBias);
    }
  }

  maxPool2d(g: Pool2dGeometry, input: Float32Array, output: Float32Array, argmax: Int32Array): void {
    const c = checkedPoolConstants(g, 'maxPool2d', { input, output, argmax });
    const outLength = c.planes * c.outPlane;
    const loops = [c.kH, c.kW];
    this.runInto(this.kernel('maxPoolValue', g, maxPoolValueSource, outLength, c, loops), [input], output);
    const winners = this.run(this.kernel('maxPoolArgmax', g, maxPoolArgmaxSource, outLength, c, loops), [input]);
    // exact: indices within a plane are small integers, held exactly in float32
    for (let i = 0; i < outLength; i++) argmax[i] = winners[i];
  }

  maxPool2dBackward(g: Pool2dGeometry, gradOutput: Float32Array, argmax: Int32Array, gradInput: Float32Array): void {
    const c = checkedPoolConstants(g, 'maxPool2dBackward', { gradOutput, argmax, gradInput });
    const outLength = c.planes * c.outPlane;
    const inLength = c.planes * c.inPlane;
    // every gpu.js target reads float arrays; an Int32Array would switch GL kernels to another signature
    if (this.argmaxAsFloat.length < outLength) this.argmaxAsFloat = new Float32Array(outLength);
    const argmaxFloat = this.argmaxAsFloat.length === outLength ? this.argmaxAsFloat : this.argmaxAsFloat.subarray(0, outLength);
    for (let i = 0; i < outLength; i++) argmaxFloat[i] = argmax[i];
    const kernel = this.kernel('maxPool2dBackward', g, maxPoolBackwardSource, inLength, c, [c.kH, c.kW]);
    this.runInto(kernel, [gradOutput, argmaxFloat], gradInput);
  }

  avgPool2d(g: Pool2dGeometry, input: Float32Array, output: Float32Array): void {
    const c = checkedPoolConstants(g, 'avgPool2d', { input, output });
    this.runInto(this.kernel('avgPool2d', g, avgPoolForwardSource, c.planes * c.outPlane, c, [c.kH, c.kW]), [input], output);
  }

  avgPool2dBackward(g: Pool2dGeometry, gradOutput: Float32Array, gradInput: Float32Array): void {
    const c = checkedPoolConstants(g, 'avgPool2dBackward', { gradOutput, gradInput });
    this.runInto(this.kernel('avgPool2dBackward', g, avgPoolBackwardSource, c.planes * c.inPlane, c, [c.kH, c.kW]), [gradOutput], gradInput);
  }

  /** BatchNorm is memory-bound: it runs on the CPU (the reference kernels), where its operands already are. */
  readonly batchNormForward = batchNormForward;
  readonly batchNormBackward = batchNormBackward;

  globalAvgPool(batch: number, channels: number, height: number, width: number, input: Float32Array, output: Float32Array): void {
    const c = globalPoolConstants(batch, channels, height, width);
    expectLength('globalAvgPool input', input, c.planes * c.planeSize, '[N, C, H, W]');
    expectLength('globalAvgPool output', output, c.planes, '[N, C]');
    this.runInto(this.kernel('globalAvgPool', c, globalAvgPoolSource, c.planes, c, [height, width]), [input], output);
  }

  globalAvgPoolBackward(batch: number, channels: number, height: number, width: number, gradOutput: Float32Array, gradInput: Float32Array): void {
    const c = globalPoolConstants(batch, channels, height, width);
    expectLength('globalAvgPoolBackward gradOutput', gradOutput, c.planes, '[N, C]');
    const inLength = c.planes * c.planeSize;
    expectLength('globalAvgPoolBackward gradInput', gradInput, inLength, '[N, C, H, W]');
    this.runInto(this.kernel('globalAvgPoolBackward', c, globalAvgPoolBackwardSource, inLength, c, [1]), [gradOutput], gradInput);
  }

  /** Frees every compiled kernel and the GL context / WebAssembly memories behind them. */
  dispose(): void {
    this.kernels.clear();
    void this.gpu.destroy();
  }

  private kernel(
    op: string,
    geometry: object,
    source: string,
    outputLength: number,
    constants: Record<string, number>,
    loopBounds: number[],
  ): CachedKernel {
    const key = `${op} ${Object.values(geometry).join('x')}`;
    let cached = this.kernels.get(key);
    if (!cached) {
      const run = this.gpu.createKernel(source, {
        output: [outputLength],
        constants,
        precision: 'single',
        // highp everywhere in GLSL: the default 'balanced' tactic lets drivers pick mediump
        tactic: 'precision',
        // GLSL loops whose bound gpu.js cannot prove constant run inside `for (i < LOOP_MAX)` with
        // a break; LOOP_MAX defaults to 1000, which would silently truncate longer reductions
        loopMaxIterations: Math.max(...loopBounds) + 1,
      } as Parameters<GPU['createKernel']>[1]);
      cached = { label: key, run, outputLength, ranOn: null };
      this.kernels.set(key, cached);
    }
    return cached;
  }

  private run(kernel: CachedKernel, args: KernelArgument[]): Float32Array {
    const result = kernel.run(...args) as unknown;
    if (kernel.ranOn === null) kernel.ranOn = this.checkWhereItRan(kernel);
    if (!(result instanceof Float32Array) || result.length !== kernel.outputLength) {
      const got = result instanceof Float32Array ? `Float32Array(${result.length})` : Object.prototype.toString.call(result);
      throw new Error(`gpu.js kernel ${kernel.label} returned ${got}; expected Float32Array(${kernel.outputLength})`);
    }
    return result;
  }

  private runInto(kernel: CachedKernel, args: KernelArgument[], output: Float32Array): void {
    output.set(this.run(kernel, args));
  }

  private checkWhereItRan(kernel: CachedKernel): ResolvedGpuJsMode {
    const active = (kernel.run as unknown as { kernel: { constructor: { name: string }; fallbackReason?: string } }).kernel;
    const ranOn = resolvedModeOfKernelClass(active.constructor);
    if (ranOn !== this.mode && !this.allowFallback) {
      throw new Error(
        `gpu.js ran kernel ${kernel.label} on ${ranOn}, not ${this.mode}` +
          (active.fallbackReason ? ` (${active.fallbackReason})` : '') +
          '; pass allowFallback: true to accept that',
      );
    }
    return ranOn;
  }

  private zeros(length: number): Float32Array {
    let zeros = this.zeroBias.get(length);
    if (!zeros) {
      zeros = new Float32Array(length);
      this.zeroBias.set(length, zeros);
    }
    return zeros;
  }
}

/** A gpu.js backend in the given mode (default `gpu`: GL where it works, else WebAssembly). */
export function createGpuJsBackend(options: GpuJsBackendOptions = {}): GpuJsBackend {
  return new GpuJsBackend(options);
}

function expectLength(what: string, array: ArrayLike<number>, expected: number, layout: string): void {
  if (array.length !== expected) {
    throw new RangeError(`${what}: expected ${expected} elements (${layout} of the geometry given), got ${array.length}`);
  }
}

/** The kernel sources' names for a sliding window's geometry (shared by the conv and pool kernels), with its output size. */
function windowConstants(g: WindowGeometry, outH: number, outW: number) {
  return {
    inH: g.inHeight,
    inW: g.inWidth,
    outH,
    outW,
    kH: g.kernelHeight,
    kW: g.kernelWidth,
    sH: g.strideHeight,
    sW: g.strideWidth,
    pH: g.padHeight,
    pW: g.padWidth,
    inPlane: g.inHeight * g.inWidth,
    outPlane: outH * outW,
  };
}

function convConstants(g: Conv2dGeometry) {
  validateConv2dGeometry(g);
  const outH = conv2dOutputHeight(g);
  const outW = conv2dOutputWidth(g);
  return {
    ...windowConstants(g, outH, outW),
    batch: g.batch,
    inC: g.inChannels,
    outC: g.outChannels,
    inImage: g.inChannels * g.inHeight * g.inWidth,
    outImage: g.outChannels * outH * outW,
    kernelArea: g.kernelHeight * g.kernelWidth,
    filterSize: g.inChannels * g.kernelHeight * g.kernelWidth,
  };
}

function poolConstants(g: Pool2dGeometry) {
  validatePool2dGeometry(g);
  return {
    ...windowConstants(g, pool2dOutputHeight(g), pool2dOutputWidth(g)),
    planes: g.batch * g.channels,
    windowSize: g.kernelHeight * g.kernelWidth,
  };
}

/**
 * A pooling's constants, after checking the length of each operand given (in order), by its name:
 * input and gradInput are [N, C, H, W], the others (argmax too) [N, C, outH, outW].
 */
function checkedPoolConstants(
  g: Pool2dGeometry, op: string, operands: Partial<Record<'input' | 'gradInput' | 'output' | 'gradOutput' | 'argmax', ArrayLike<number>>>,
) {
  const c = poolConstants(g);
  for (const [name, array] of Object.entries(operands)) {
    if (name === 'input' || name === 'gradInput') expectLength(`${op} ${name}`, array, c.planes * c.inPlane, '[N, C, H, W]');
    else expectLength(`${op} ${name}`, array, c.planes * c.outPlane, '[N, C, outH, outW]');
  }
  return c;
}

function globalPoolConstants(batch: number, channels: number, height: number, width: number) {
  for (const [key, value] of Object.entries({ batch, channels, height, width })) {
    if (!Number.isInteger(value) || value < 1) throw new RangeError(`globalAvgPool: ${key} must be a positive integer, got ${value}`);
  }
  return { planes: batch * channels, height, width, planeSize: height * width };
}
