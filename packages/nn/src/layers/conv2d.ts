import {
  Conv2dGeometry, conv2dOutputHeight, conv2dOutputWidth, ConvEpilogue, KernelBackend, referenceBackend, validateConv2dGeometry,
} from '@convoy/kernels';
import { Tensor } from '@convoy/tensor';
import { checkFiniteInput, checkImageInput } from '../checks';
import { WeightedModule, type FrozenParameters, type WeightInit } from './weighted';
import { checkBoolean, checkFrozen, checkOptions, checkPositiveInteger, checkWeightInit, Size2, toPair } from '../options';

export interface Conv2dOptions {
  /** Default 1. */
  stride?: Size2;
  /** Zero padding on each side; default 0. */
  padding?: Size2;
  /** Learnable bias per output channel; default true. */
  bias?: boolean;
  /** Kernel backend for the convolution; default the plain-TS reference. */
  backend?: KernelBackend;
  /** Check every input for NaN/Infinity (default true; costs one pass over the input). */
  checkFinite?: boolean;
  /**
   * Compute the input gradient in backward (default true). False for a network's first layer, whose
   * input is the images: backward then computes only the parameter gradients (saving a pass as
   * costly as the forward) and returns NO_INPUT_GRADIENT.
   */
  inputGradient?: boolean;
  /** How the weight starts (see WeightInit); default PyTorch's draw. */
  init?: WeightInit;
  /** Parameters that never train (see FrozenParameters); default none. */
  frozen?: FrozenParameters;
}

const CONV2D_OPTIONS = ['stride', 'padding', 'bias', 'backend', 'checkFinite', 'inputGradient', 'init', 'frozen'] as const;

/** What backward returns when a layer was built with `inputGradient: false`: an empty tensor (shape [0]). */
export const NO_INPUT_GRADIENT: Tensor = Tensor.zeros([0]);

/**
 * 2-D convolution as torch.nn.Conv2d (groups=1, dilation=1): weight [outC, inC, kH, kW], bias [outC],
 * PyTorch's default initialisation. The arithmetic is delegated to a KernelBackend.
 */
export class Conv2d extends WeightedModule {
  readonly kind = 'Conv2d';
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernelSize: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number];
  readonly hasBias: boolean;
  readonly init: WeightInit;
  readonly frozen: FrozenParameters;
  backend: KernelBackend;
  /** Whether backward computes the input gradient (see Conv2dOptions.inputGradient). */
  readonly inputGradient: boolean;
  private readonly checkFinite: boolean;

  private geometry: Conv2dGeometry | null = null;
  /** A ReLU after this conv runs in the kernel's output pass (see fuseReLUs in sequential.ts). */
  private epilogue: ConvEpilogue | undefined = undefined;
  /** This conv's input is a ReLU's output: the kernel masks the input gradient by it, which is that ReLU's backward. */
  private inputFromReLU = false;

  constructor(inChannels: number, outChannels: number, kernelSize: Size2, options: Conv2dOptions = {}) {
    super();
    checkOptions('Conv2d', options, CONV2D_OPTIONS);
    this.inChannels = checkPositiveInteger('Conv2d: inChannels', inChannels);
    this.outChannels = checkPositiveInteger('Conv2d: outChannels', outChannels);
    this.kernelSize = toPair('Conv2d: kernelSize', kernelSize);
    this.stride = toPair('Conv2d: stride', options.stride ?? 1);
    this.padding = toPair('Conv2d: padding', options.padding ?? 0, true);
    this.hasBias = checkBoolean('Conv2d: bias', options.bias, true);
    this.init = checkWeightInit('Conv2d', options.init, ['default', 'identity', 'whitening']);
    this.frozen = checkFrozen('Conv2d', options.frozen);
    this.backend = options.backend ?? referenceBackend;
    this.checkFinite = options.checkFinite ?? true;
    this.inputGradient = checkBoolean('Conv2d: inputGradient', options.inputGradient, true);
  }

  protected override storageBackend(): KernelBackend {
    return this.backend;
  }

  /** Runs the ReLU that follows this conv inside the conv's output pass (forward). */
  fuseReLUAfter(): void {
    this.epilogue = { relu: true };
  }

  /**
   * Marks this conv's input as the output of a ReLU whose backward pass it takes over: the input
   * gradient is zeroed where the input is +0, in the kernel's output pass.
   */
  fuseReLUBefore(): void {
    this.inputFromReLU = true;
  }

  get fanIn(): number {
    return this.inChannels * this.kernelSize[0] * this.kernelSize[1];
  }

  protected weightShape(): number[] {
    return [this.outChannels, this.inChannels, ...this.kernelSize];
  }

  forward(x: Tensor): Tensor {
    const { weight } = this.bound();
    checkImageInput(this.label, x, this.inChannels);
    if (this.checkFinite) checkFiniteInput(this.label, x);
    const g = this.geometryFor(x);
    const out = this.output.get([g.batch, this.outChannels, conv2dOutputHeight(g), conv2dOutputWidth(g)]);
    this.backend.conv2d(g, x.data, weight.data, this.bias ? this.bias.data : null, out.data, this.epilogue);
    return this.keepForBackward(x, out);
  }

  backward(gradOut: Tensor): Tensor {
    const { weight, gradWeight, x } = this.backwardState(gradOut);
    const g = this.geometry as Conv2dGeometry;
    this.backend.conv2dBackwardWeights(g, x.data, gradOut.data, gradWeight.data, this.gradBias ? this.gradBias.data : null);
    if (!this.inputGradient) return NO_INPUT_GRADIENT;
    const gradIn = this.gradInput.get(x.shape);
    this.backend.conv2dBackwardInput(g, gradOut.data, weight.data, gradIn.data, this.inputFromReLU ? x.data : null);
    return gradIn;
  }

  private geometryFor(x: Tensor): Conv2dGeometry {
    const [batch, , inHeight, inWidth] = x.shape;
    const last = this.geometry;
    if (last && last.batch === batch && last.inHeight === inHeight && last.inWidth === inWidth) return last;
    const g: Conv2dGeometry = {
      batch,
      inChannels: this.inChannels,
      inHeight,
      inWidth,
      outChannels: this.outChannels,
      kernelHeight: this.kernelSize[0],
      kernelWidth: this.kernelSize[1],
      strideHeight: this.stride[0],
      strideWidth: this.stride[1],
      padHeight: this.padding[0],
      padWidth: this.padding[1],
    };
    try {
      validateConv2dGeometry(g);
    } catch (e) {
      throw new RangeError(`${this.label}: input [${x.shape.join(', ')}] does not fit: ${(e as Error).message}`);
    }
    this.geometry = g;
    return g;
  }
}
