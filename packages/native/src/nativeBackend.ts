import {
  type BatchNormGeometry,
  type ConvEpilogue,
  type Conv2dGeometry,
  type KernelBackend,
  type Pool2dGeometry,
  type WasmBackend,
  conv2dOutputHeight,
  conv2dOutputWidth,
  createWasmBackend,
  maskByReluOutput,
  pool2dOutputHeight,
  pool2dOutputWidth,
} from '@convoy/kernels';
import { DNNL, type Dnnl, type Pointer, check, loadDnnl } from './dnnl';
import { type ArgSpec, Primitive, ReorderScratch, anyDesc, createPrimitiveDesc, dims64, newOpDesc, plainDesc } from './primitive';

/**
 * KernelBackend on oneDNN primitives, NCHW at the boundary as every backend. One primitive (and
 * its memory objects) per op and shape, created on first use and kept; the caller's arrays are
 * passed to the library in place. Convolutions take oneDNN's direct algorithm with the ReLU fused
 * as a post-op; the input gradient's ReLU mask is applied after the primitive, on the float bits
 * (@convoy/kernels' epilogue helper), as the other backends do.
 *
 * One instance per thread (as every backend): it pins its thread's OpenMP team to one thread, since
 * convoy's worker threads are the parallelism.
 */
export interface NativeBackendOptions {
  /**
   * `blocked` (default): convolutions choose their own layouts (oneDNN's blocked formats, where its
   * direct kernels are fastest), with cached reorders from and to NCHW around them; `plain`:
   * convolutions run on NCHW/OIHW as given.
   */
  layout?: 'blocked' | 'plain';
  /**
   * `f32` (default); `bf16`: convolutions read their inputs (activations, weights, output gradients)
   * as bfloat16, converted on the way in, and accumulate and write float32, so master weights and
   * every other op stay float32 (oneDNN's mixed-precision training; fast where the CPU has
   * avx512_bf16 or AMX). Not bit-compatible with the other backends: an option, never a default.
   */
  precision?: NativePrecision;
}

export type NativePrecision = 'f32' | 'bf16';

/** The element type of each convolution argument for one direction of one precision. */
interface ConvTypes { src: number; weights: number; dst: number }

/** Input channels from which a convolution runs in bf16 under that precision. */
const BF16_MIN_IN_CHANNELS = 16;

/**
 * Address space reserved per backend (per thread) for the arrays it allocates: 2 GiB of the wasm
 * instance's 4 GiB, of which only what is written takes memory. Past it, layers get plain arrays
 * and BatchNorm copies them as before.
 */
const RESIDENT_BYTES = 2 ** 31;

const F32_TYPES: ConvTypes = { src: DNNL.f32, weights: DNNL.f32, dst: DNNL.f32 };

/** bf16 convolutions: the operands read are bfloat16, what is written (and accumulated) float32. */
const BF16_TYPES: Record<'forward' | 'backwardData' | 'backwardWeights', ConvTypes> = {
  forward: { src: DNNL.bf16, weights: DNNL.bf16, dst: DNNL.f32 },
  backwardData: { src: DNNL.f32, weights: DNNL.bf16, dst: DNNL.bf16 },
  backwardWeights: { src: DNNL.bf16, weights: DNNL.f32, dst: DNNL.bf16 },
};

export class NativeBackend implements KernelBackend {
  readonly name: string;
  readonly layout: 'blocked' | 'plain';
  readonly precision: NativePrecision;
  private readonly stream: Pointer;
  private readonly cache = new Map<string, Primitive>();
  /** Where every primitive's reordered arguments live during its call (one storage, the largest call's size). */
  private readonly reorderScratch = new ReorderScratch();
  /**
   * BatchNorm runs the wasm SIMD kernels, in place on the arrays this backend allocates: they lie in
   * that instance's memory (reserved up front; oneDNN reads and writes them there too, as any
   * array), so a BatchNorm call copies only what was allocated elsewhere. Copying the operands in
   * and out cost more than the passes themselves. oneDNN's batch normalization primitive can do the
   * contract (one execution per ghost group, on views of the caller's arrays), but measured slower
   * (benchmarks/RESULTS.md): on NCHW as given oneDNN takes its generic `ncsp_bnorm` loops; its
   * vectorised kernels want a blocked layout, i.e. a reorder (a copy) in and out per call, and the
   * fused ReLU's backward needs the forward's workspace, which the contract does not carry.
   */
  private readonly inPlaceKernels = createWasmBackend({ residentBytes: RESIDENT_BYTES });
  /** The same kernels for calls on arrays allocated elsewhere: copied in and out of their own memory, which grows as needed. */
  private copyingKernelsInstance: WasmBackend | null = null;

  constructor(private readonly dnnl: Dnnl = loadDnnl(), options: NativeBackendOptions = {}) {
    this.layout = options.layout ?? 'blocked';
    this.precision = options.precision ?? 'f32';
    this.name = this.precision === 'bf16' ? 'native:bf16' : 'native';
    if (this.precision === 'bf16' && this.layout === 'plain') throw new RangeError("the native backend's bf16 precision needs the blocked layout");
    dnnl.setOmpThreads?.(1);
    const streamOut: Array<Pointer | null> = [null];
    check(dnnl.stream_create(streamOut, dnnl.engine, DNNL.streamDefault), 'stream_create');
    this.stream = streamOut[0] as Pointer;
  }

  /** oneDNN's version and where it was loaded from, e.g. `oneDNN 2.6.3 (libdnnl.so.2)`. */
  get library(): string {
    return `oneDNN ${this.dnnl.version} (${this.dnnl.path})`;
  }

  /** The implementation oneDNN chose for each primitive made so far (key -> e.g. `jit:avx512_core`). */
  implementations(): Record<string, string> {
    return Object.fromEntries([...this.cache].map(([key, p]) => [key, p.implementation]));
  }

  conv2d(g: Conv2dGeometry, input: Float32Array, weight: Float32Array, bias: Float32Array | null, output: Float32Array, epilogue?: ConvEpilogue): void {
    const relu = epilogue?.relu === true;
    const withBias = bias !== null;
    const prim = this.cached(`conv:${convKey(g)}:${withBias ? 'b' : ''}${relu ? 'r' : ''}`, () => {
      const d = convDescs(this.dnnl, g, this.layout, this.convTypes('forward', g));
      const op = newOpDesc();
      check(
        this.dnnl.convolution_forward_desc_init(op, DNNL.prop.forwardTraining, DNNL.alg.convDirect, d.op.src, d.op.weights, withBias ? d.bias : null, d.op.dst, d.strides, d.padL, d.padR),
        'convolution_forward_desc_init',
      );
      const pd = createPrimitiveDesc(this.dnnl, op, { relu });
      const args: ArgSpec[] = [{ arg: DNNL.arg.src, md: d.src }, { arg: DNNL.arg.weights, md: d.weights }, { arg: DNNL.arg.dst, md: d.dst, output: true }];
      if (withBias) args.push({ arg: DNNL.arg.bias, md: d.bias });
      return this.primitive(pd, args);
    });
    if (bias !== null) prim.execute(this.stream, [input, weight, output, bias]);
    else prim.execute(this.stream, [input, weight, output]);
  }

  conv2dBackwardInput(g: Conv2dGeometry, gradOutput: Float32Array, weight: Float32Array, gradInput: Float32Array, reluMask?: Float32Array | null): void {
    const prim = this.cached(`convBwdData:${convKey(g)}`, () => {
      const d = convDescs(this.dnnl, g, this.layout, this.convTypes('backwardData', g));
      const hint = this.forwardHint(g);
      try {
        const op = newOpDesc();
        check(this.dnnl.convolution_backward_data_desc_init(op, DNNL.alg.convDirect, d.op.src, d.op.weights, d.op.dst, d.strides, d.padL, d.padR), 'convolution_backward_data_desc_init');
        const pd = createPrimitiveDesc(this.dnnl, op, { hint });
        return this.primitive(pd, [{ arg: DNNL.arg.diffDst, md: d.dst }, { arg: DNNL.arg.weights, md: d.weights }, { arg: DNNL.arg.diffSrc, md: d.src, output: true }]);
      } finally {
        this.dnnl.primitive_desc_destroy(hint);
      }
    });
    prim.execute(this.stream, [gradOutput, weight, gradInput]);
    if (reluMask) maskByReluOutput(gradInput, reluMask, g.batch * g.inChannels * g.inHeight * g.inWidth);
  }

  conv2dBackwardWeights(g: Conv2dGeometry, input: Float32Array, gradOutput: Float32Array, gradWeight: Float32Array, gradBias: Float32Array | null): void {
    const withBias = gradBias !== null;
    const prim = this.cached(`convBwdWeights:${convKey(g)}:${withBias ? 'b' : ''}`, () => {
      const d = convDescs(this.dnnl, g, this.layout, this.convTypes('backwardWeights', g));
      const hint = this.forwardHint(g);
      try {
        const op = newOpDesc();
        check(
          this.dnnl.convolution_backward_weights_desc_init(op, DNNL.alg.convDirect, d.op.src, d.op.weights, withBias ? d.bias : null, d.op.dst, d.strides, d.padL, d.padR),
          'convolution_backward_weights_desc_init',
        );
        const pd = createPrimitiveDesc(this.dnnl, op, { hint });
        const args: ArgSpec[] = [{ arg: DNNL.arg.src, md: d.src }, { arg: DNNL.arg.diffDst, md: d.dst }, { arg: DNNL.arg.diffWeights, md: d.weights, output: true }];
        if (withBias) args.push({ arg: DNNL.arg.diffBias, md: d.bias, output: true });
        return this.primitive(pd, args);
      } finally {
        this.dnnl.primitive_desc_destroy(hint);
      }
    });
    if (gradBias !== null) prim.execute(this.stream, [input, gradOutput, gradWeight, gradBias]);
    else prim.execute(this.stream, [input, gradOutput, gradWeight]);
  }

  maxPool2d(g: Pool2dGeometry, input: Float32Array, output: Float32Array, argmax: Int32Array): void {
    this.maxPool.forward(g, input, output, argmax);
  }

  maxPool2dBackward(g: Pool2dGeometry, gradOutput: Float32Array, argmax: Int32Array, gradInput: Float32Array): void {
    this.maxPool.backward(g, gradOutput, argmax, gradInput);
  }

  avgPool2d(g: Pool2dGeometry, input: Float32Array, output: Float32Array): void {
    this.poolPrimitive(g, 'fwd').execute(this.stream, [input, output]);
  }

  avgPool2dBackward(g: Pool2dGeometry, gradOutput: Float32Array, gradInput: Float32Array): void {
    this.poolPrimitive(g, 'bwd').execute(this.stream, [gradOutput, gradInput]);
  }

  globalAvgPool(batch: number, channels: number, height: number, width: number, input: Float32Array, output: Float32Array): void {
    this.avgPool2d(globalPool(batch, channels, height, width), input, output);
  }

  globalAvgPoolBackward(batch: number, channels: number, height: number, width: number, gradOutput: Float32Array, gradInput: Float32Array): void {
    this.avgPool2dBackward(globalPool(batch, channels, height, width), gradOutput, gradInput);
  }

  /** KernelBackend.allocate: storage in the BatchNorm kernels' memory, where they use it without copies. */
  allocate(length: number): Float32Array | null {
    return this.inPlaceKernels.allocate(length);
  }

  batchNormForward(
    g: BatchNormGeometry, input: Float32Array, weight: Float32Array | null, bias: Float32Array | null, eps: number,
    mean: Float32Array, variance: Float32Array, output: Float32Array, training: boolean, epilogue?: ConvEpilogue,
  ): void {
    const kernels = this.inPlaceKernels.holds(input, output) ? this.inPlaceKernels : this.copyingKernels();
    kernels.batchNormForward(g, input, weight, bias, eps, mean, variance, output, training, epilogue);
  }

  batchNormBackward(
    g: BatchNormGeometry, input: Float32Array, gradOutput: Float32Array, reluOutput: Float32Array | null,
    weight: Float32Array | null, eps: number, mean: Float32Array, variance: Float32Array, training: boolean,
    gradInput: Float32Array, gradWeight: Float32Array | null, gradBias: Float32Array | null,
  ): void {
    const kernels = this.inPlaceKernels.holds(input, gradOutput, reluOutput, gradInput) ? this.inPlaceKernels : this.copyingKernels();
    kernels.batchNormBackward(g, input, gradOutput, reluOutput, weight, eps, mean, variance, training, gradInput, gradWeight, gradBias);
  }

  /** Made on the first call that needs it: where every layer allocates here, none does. */
  private copyingKernels(): WasmBackend {
    this.copyingKernelsInstance ??= createWasmBackend();
    return this.copyingKernelsInstance;
  }

  dispose(): void {
    for (const prim of this.cache.values()) prim.dispose();
    this.cache.clear();
  }

  /** @internal A primitive of this backend: its reorders go through the backend's scratch. */
  primitive(pd: Pointer, args: ArgSpec[]): Primitive {
    return new Primitive(this.dnnl, pd, args, this.reorderScratch);
  }

  /** @internal Floats held for reordered arguments: the most any one primitive made so far needs at once. */
  get reorderScratchFloats(): number {
    return this.reorderScratch.length;
  }

  /** @internal The cache: one primitive per key, made on first use. */
  cached(key: string, make: () => Primitive): Primitive {
    let prim = this.cache.get(key);
    if (!prim) {
      prim = make();
      this.cache.set(key, prim);
    }
    return prim;
  }

  /** @internal */
  get executionStream(): Pointer {
    return this.stream;
  }

  /** @internal */
  get library_(): Dnnl {
    return this.dnnl;
  }

  private readonly maxPool = new MaxPool(this);

  /** The forward-training descriptor the backward primitives take as their hint (destroyed by the caller). */
  /**
   * bf16 where it pays: a convolution with few input channels (a network's first, on RGB or grey
   * images) runs slower in oneDNN's bf16 kernels than in float32 ones, so it stays float32.
   */
  private convTypes(direction: keyof typeof BF16_TYPES, g: Conv2dGeometry): ConvTypes {
    return this.precision === 'bf16' && g.inChannels >= BF16_MIN_IN_CHANNELS ? BF16_TYPES[direction] : F32_TYPES;
  }

  /** The forward primitive descriptor a backward one is created against (its layouts). */
  private forwardHint(g: Conv2dGeometry): Pointer {
    const d = convDescs(this.dnnl, g, this.layout, this.convTypes('forward', g));
    const op = newOpDesc();
    check(this.dnnl.convolution_forward_desc_init(op, DNNL.prop.forwardTraining, DNNL.alg.convDirect, d.op.src, d.op.weights, d.bias, d.op.dst, d.strides, d.padL, d.padR), 'convolution_forward_desc_init (hint)');
    return createPrimitiveDesc(this.dnnl, op);
  }

  private poolPrimitive(g: Pool2dGeometry, direction: 'fwd' | 'bwd'): Primitive {
    return this.cached(`avgPool:${direction}:${poolKey(g)}`, () => {
      const d = poolDescs(this.dnnl, g);
      const fwd = newOpDesc();
      check(
        this.dnnl.pooling_forward_desc_init(fwd, DNNL.prop.forwardTraining, DNNL.alg.poolAvgIncludePadding, d.src, d.dst, d.strides, d.kernel, d.padL, d.padR),
        'pooling_forward_desc_init',
      );
      if (direction === 'fwd') return this.primitive(createPrimitiveDesc(this.dnnl, fwd), [{ arg: DNNL.arg.src, md: d.src }, { arg: DNNL.arg.dst, md: d.dst, output: true }]);
      const hint = createPrimitiveDesc(this.dnnl, fwd);
      try {
        const bwd = newOpDesc();
        check(this.dnnl.pooling_backward_desc_init(bwd, DNNL.alg.poolAvgIncludePadding, d.src, d.dst, d.strides, d.kernel, d.padL, d.padR), 'pooling_backward_desc_init');
        return this.primitive(createPrimitiveDesc(this.dnnl, bwd, { hint }), [{ arg: DNNL.arg.diffDst, md: d.dst }, { arg: DNNL.arg.diffSrc, md: d.src, output: true }]);
      } finally {
        this.dnnl.primitive_desc_destroy(hint);
      }
    });
  }
}

/**
 * Max pooling: oneDNN's forward primitive takes the maximum and records, in its workspace, which
 * window element won; here the winner becomes the contract's argmax (the flat index in its input
 * plane). oneDNN's workspace holds the window position (kh * kW + kw), ties to the first in
 * row-major order as PyTorch. The backward pass is the scatter of each output gradient to its
 * argmax, which needs no primitive.
 */
class MaxPool {
  private workspace = new Uint8Array(0);

  constructor(private readonly owner: NativeBackend) {}

  forward(g: Pool2dGeometry, input: Float32Array, output: Float32Array, argmax: Int32Array): void {
    const owner = this.owner;
    const dnnl = owner.library_;
    const prim = owner.cached(`maxPool:${poolKey(g)}`, () => {
      const d = poolDescs(dnnl, g);
      const op = newOpDesc();
      check(dnnl.pooling_forward_desc_init(op, DNNL.prop.forwardTraining, DNNL.alg.poolMax, d.src, d.dst, d.strides, d.kernel, d.padL, d.padR), 'pooling_forward_desc_init (max)');
      const pd = createPrimitiveDesc(dnnl, op);
      const ws = dnnl.primitive_desc_query_md(pd, DNNL.query.workspaceMd, 0) as Pointer;
      return owner.primitive(pd, [{ arg: DNNL.arg.src, md: d.src }, { arg: DNNL.arg.dst, md: d.dst, output: true }, { arg: DNNL.arg.workspace, md: ws, output: true }]);
    });
    const outH = pool2dOutputHeight(g);
    const outW = pool2dOutputWidth(g);
    const count = g.batch * g.channels * outH * outW;
    const ws = dnnl.primitive_desc_query_md(prim.pd, DNNL.query.workspaceMd, 0) as Pointer;
    const wsBytes = Number(dnnl.memory_desc_get_size(ws));
    const wsElementBytes = wsBytes >= 4 * count ? 4 : 1;
    if (this.workspace.byteLength < wsBytes) this.workspace = new Uint8Array(wsBytes);
    prim.execute(owner.executionStream, [input, output, this.workspace]);
    const index = wsElementBytes === 4 ? new Int32Array(this.workspace.buffer, 0, count) : this.workspace;
    // The workspace of a plain NCHW pooling is laid out as dst: element i is output i's winner.
    let i = 0;
    for (let plane = 0; plane < g.batch * g.channels; plane++) {
      for (let oy = 0; oy < outH; oy++) {
        const y0 = oy * g.strideHeight - g.padHeight;
        for (let ox = 0; ox < outW; ox++, i++) {
          const k = index[i];
          const ky = Math.floor(k / g.kernelWidth);
          argmax[i] = (y0 + ky) * g.inWidth + ox * g.strideWidth - g.padWidth + (k - ky * g.kernelWidth);
        }
      }
    }
  }

  backward(g: Pool2dGeometry, gradOutput: Float32Array, argmax: Int32Array, gradInput: Float32Array): void {
    const planeIn = g.inHeight * g.inWidth;
    const planeOut = pool2dOutputHeight(g) * pool2dOutputWidth(g);
    gradInput.fill(0, 0, g.batch * g.channels * planeIn);
    for (let plane = 0, o = 0; plane < g.batch * g.channels; plane++) {
      const base = plane * planeIn;
      for (let j = 0; j < planeOut; j++, o++) gradInput[base + argmax[o]] += gradOutput[o];
    }
  }
}

interface ConvDescs {
  /** The descriptors the operation is created from: `any` layouts when blocked, else the plain ones. */
  op: { src: Uint8Array; weights: Uint8Array; dst: Uint8Array };
  src: Uint8Array;
  weights: Uint8Array;
  bias: Uint8Array;
  dst: Uint8Array;
  strides: BigInt64Array;
  padL: BigInt64Array;
  padR: BigInt64Array;
}

function convDescs(dnnl: Dnnl, g: Conv2dGeometry, layout: 'blocked' | 'plain', types: ConvTypes): ConvDescs {
  const outH = conv2dOutputHeight(g);
  const outW = conv2dOutputWidth(g);
  const srcDims = [g.batch, g.inChannels, g.inHeight, g.inWidth];
  const weightDims = [g.outChannels, g.inChannels, g.kernelHeight, g.kernelWidth];
  const dstDims = [g.batch, g.outChannels, outH, outW];
  const src = plainDesc(dnnl, srcDims);
  const weights = plainDesc(dnnl, weightDims);
  const dst = plainDesc(dnnl, dstDims);
  return {
    op: layout === 'plain' ? { src, weights, dst } : { src: anyDesc(dnnl, srcDims, types.src), weights: anyDesc(dnnl, weightDims, types.weights), dst: anyDesc(dnnl, dstDims, types.dst) },
    src,
    weights,
    bias: plainDesc(dnnl, [g.outChannels]),
    dst,
    strides: dims64([g.strideHeight, g.strideWidth]),
    padL: dims64([g.padHeight, g.padWidth]),
    padR: dims64([padRight(g.inHeight, g.kernelHeight, g.strideHeight, g.padHeight, outH), padRight(g.inWidth, g.kernelWidth, g.strideWidth, g.padWidth, outW)]),
  };
}

/** oneDNN wants the right/bottom padding that makes the output size exact (PyTorch's floor drops the rest). */
function padRight(size: number, kernel: number, stride: number, pad: number, out: number): number {
  return (out - 1) * stride + kernel - size - pad;
}

function poolDescs(dnnl: Dnnl, g: Pool2dGeometry) {
  const outH = pool2dOutputHeight(g);
  const outW = pool2dOutputWidth(g);
  return {
    src: plainDesc(dnnl, [g.batch, g.channels, g.inHeight, g.inWidth]),
    dst: plainDesc(dnnl, [g.batch, g.channels, outH, outW]),
    strides: dims64([g.strideHeight, g.strideWidth]),
    kernel: dims64([g.kernelHeight, g.kernelWidth]),
    padL: dims64([g.padHeight, g.padWidth]),
    padR: dims64([padRight(g.inHeight, g.kernelHeight, g.strideHeight, g.padHeight, outH), padRight(g.inWidth, g.kernelWidth, g.strideWidth, g.padWidth, outW)]),
  };
}

function globalPool(batch: number, channels: number, height: number, width: number): Pool2dGeometry {
  return { batch, channels, inHeight: height, inWidth: width, kernelHeight: height, kernelWidth: width, strideHeight: 1, strideWidth: 1, padHeight: 0, padWidth: 0 };
}

function convKey(g: Conv2dGeometry): string {
  return `${g.batch},${g.inChannels},${g.inHeight},${g.inWidth},${g.outChannels},${g.kernelHeight},${g.kernelWidth},${g.strideHeight},${g.strideWidth},${g.padHeight},${g.padWidth}`;
}

function poolKey(g: Pool2dGeometry): string {
  return `${g.batch},${g.channels},${g.inHeight},${g.inWidth},${g.kernelHeight},${g.kernelWidth},${g.strideHeight},${g.strideWidth},${g.padHeight},${g.padWidth}`;
}

/** A native backend for this thread; throws NativeUnavailableError (one line) when oneDNN is not usable here. */
export function createNativeBackend(options: NativeBackendOptions = {}): NativeBackend {
  return new NativeBackend(loadDnnl(), options);
}
