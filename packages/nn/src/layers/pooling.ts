import {
  KernelBackend, maskByReluOutput, Pool2dGeometry, pool2dOutputHeight, pool2dOutputWidth, referenceBackend, validatePool2dGeometry,
} from '@convoy/kernels';
import { formatShape, Tensor } from '@convoy/tensor';
import { ReusableInt32, ReusableTensor } from '../buffers';
import { checkGradOut } from '../checks';
import { Module } from '../module';
import { checkOptions, Size2, toPair } from '../options';

export interface Pool2dOptions {
  /** Default: the kernel size (as PyTorch). */
  stride?: Size2;
  /** Default 0; at most half the kernel. */
  padding?: Size2;
  backend?: KernelBackend;
}

const POOL_OPTIONS = ['stride', 'padding', 'backend'] as const;

/** Shared shape logic of max and average pooling (floor mode, as PyTorch's default). */
abstract class Pool2d extends Module {
  readonly kernelSize: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number];
  backend: KernelBackend;
  protected readonly output = new ReusableTensor(() => this.backend);
  protected readonly gradInput = new ReusableTensor(() => this.backend);
  protected inputShape: number[] | null = null;
  protected lastOutput: Tensor | null = null;
  protected geometry: Pool2dGeometry | null = null;

  constructor(kind: string, kernelSize: Size2, options: Pool2dOptions) {
    super();
    checkOptions(kind, options, POOL_OPTIONS);
    this.kernelSize = toPair(`${kind}: kernelSize`, kernelSize);
    this.stride = toPair(`${kind}: stride`, options.stride ?? this.kernelSize);
    this.padding = toPair(`${kind}: padding`, options.padding ?? 0, true);
    if (this.padding[0] * 2 > this.kernelSize[0] || this.padding[1] * 2 > this.kernelSize[1]) {
      throw new RangeError(`${kind}: padding ${this.padding.join('x')} must be at most half the kernel ${this.kernelSize.join('x')}`);
    }
    this.backend = options.backend ?? referenceBackend;
  }

  protected prepare(x: Tensor): { g: Pool2dGeometry; out: Tensor } {
    if (x.shape.length !== 4 || x.shape[0] < 1) {
      throw new RangeError(`${this.label}: expected input of shape [N, C, H, W] (NCHW), got ${formatShape(x.shape)}`);
    }
    const [batch, channels, inHeight, inWidth] = x.shape;
    let g = this.geometry;
    if (!g || g.batch !== batch || g.channels !== channels || g.inHeight !== inHeight || g.inWidth !== inWidth) {
      g = {
        batch, channels, inHeight, inWidth,
        kernelHeight: this.kernelSize[0], kernelWidth: this.kernelSize[1],
        strideHeight: this.stride[0], strideWidth: this.stride[1],
        padHeight: this.padding[0], padWidth: this.padding[1],
      };
      try {
        validatePool2dGeometry(g);
      } catch (e) {
        throw new RangeError(`${this.label}: input ${formatShape(x.shape)} does not fit: ${(e as Error).message}`);
      }
      this.geometry = g;
    }
    const out = this.output.get([batch, channels, pool2dOutputHeight(g), pool2dOutputWidth(g)]);
    this.inputShape = x.shape;
    this.lastOutput = out;
    return { g, out };
  }
}

/** torch.nn.MaxPool2d (dilation 1, floor mode); ties go to the first element of the window. */
export class MaxPool2d extends Pool2d {
  readonly kind = 'MaxPool2d';
  private readonly argmax = new ReusableInt32();
  private lastArgmax: Int32Array | null = null;
  /** The input is a fused ReLU's output (see fuseReLUBefore). */
  private inputFromReLU = false;
  private readonly maskedGradOut = new ReusableTensor();

  constructor(kernelSize: Size2, options: Pool2dOptions = {}) {
    super('MaxPool2d', kernelSize, options);
  }

  forward(x: Tensor): Tensor {
    const { g, out } = this.prepare(x);
    const argmax = this.argmax.get(out.size);
    this.backend.maxPool2d(g, x.data, out.data, argmax);
    this.lastArgmax = argmax;
    return out;
  }

  /**
   * Takes over the backward pass of the ReLU whose output is this pool's input. The gradient of
   * each window goes to its winner, a ReLU output equal to the pooled value, so masking the output
   * gradient where the pooled value is +0 is that ReLU's backward (on a quarter of the elements).
   */
  fuseReLUBefore(): void {
    this.inputFromReLU = true;
  }

  backward(gradOut: Tensor): Tensor {
    const out = checkGradOut(this.label, gradOut, this.lastOutput);
    const gradIn = this.gradInput.get(this.inputShape as number[]);
    let dy = gradOut;
    if (this.inputFromReLU) {
      dy = this.maskedGradOut.get(gradOut.shape);
      dy.data.set(gradOut.data.subarray(0, dy.size));
      maskByReluOutput(dy.data, out.data, dy.size);
    }
    this.backend.maxPool2dBackward(this.geometry as Pool2dGeometry, dy.data, this.lastArgmax as Int32Array, gradIn.data);
    return gradIn;
  }
}

/** torch.nn.AvgPool2d (floor mode, count_include_pad=True). */
export class AvgPool2d extends Pool2d {
  readonly kind = 'AvgPool2d';

  constructor(kernelSize: Size2, options: Pool2dOptions = {}) {
    super('AvgPool2d', kernelSize, options);
  }

  forward(x: Tensor): Tensor {
    const { g, out } = this.prepare(x);
    this.backend.avgPool2d(g, x.data, out.data);
    return out;
  }

  backward(gradOut: Tensor): Tensor {
    checkGradOut(this.label, gradOut, this.lastOutput);
    const gradIn = this.gradInput.get(this.inputShape as number[]);
    this.backend.avgPool2dBackward(this.geometry as Pool2dGeometry, gradOut.data, gradIn.data);
    return gradIn;
  }
}

/** What the two global pools share: the backend option, the input check and the [N, C, 1, 1] output. */
abstract class GlobalPool2d extends Module {
  backend: KernelBackend;
  protected readonly gradInput = new ReusableTensor(() => this.backend);
  protected lastOutput: Tensor | null = null;
  private readonly output = new ReusableTensor();

  constructor(kind: string, options: { backend?: KernelBackend }) {
    super();
    checkOptions(kind, options, ['backend']);
    this.backend = options.backend ?? referenceBackend;
  }

  /** Checks that x is [N, C, H, W] and returns the output buffer [N, C, 1, 1] (what backward checks gradOut against). */
  protected prepare(x: Tensor): Tensor {
    if (x.shape.length !== 4 || x.shape[0] < 1 || x.shape[2] < 1 || x.shape[3] < 1) {
      throw new RangeError(`${this.label}: expected input of shape [N, C, H, W] with H, W >= 1, got ${formatShape(x.shape)}`);
    }
    this.lastOutput = this.output.get([x.shape[0], x.shape[1], 1, 1]);
    return this.lastOutput;
  }
}

/** Mean over each whole plane: [N, C, H, W] -> [N, C, 1, 1], as torch.nn.AdaptiveAvgPool2d(1). */
export class GlobalAvgPool2d extends GlobalPool2d {
  readonly kind = 'GlobalAvgPool2d';
  private inputShape: number[] | null = null;

  constructor(options: { backend?: KernelBackend } = {}) {
    super('GlobalAvgPool2d', options);
  }

  forward(x: Tensor): Tensor {
    const out = this.prepare(x);
    const [n, c, h, w] = x.shape;
    this.backend.globalAvgPool(n, c, h, w, x.data, out.data);
    this.inputShape = x.shape;
    return out;
  }

  backward(gradOut: Tensor): Tensor {
    checkGradOut(this.label, gradOut, this.lastOutput);
    const shape = this.inputShape as number[];
    const gradIn = this.gradInput.get(shape);
    this.backend.globalAvgPoolBackward(shape[0], shape[1], shape[2], shape[3], gradOut.data, gradIn.data);
    return gradIn;
  }
}

/**
 * Maximum over each whole plane: [N, C, H, W] -> [N, C, 1, 1], as torch.nn.AdaptiveMaxPool2d(1):
 * the backend's max pooling with one window the size of the plane (ties to the first element).
 */
export class GlobalMaxPool2d extends GlobalPool2d {
  readonly kind = 'GlobalMaxPool2d';
  private readonly argmax = new ReusableInt32();
  private lastArgmax: Int32Array | null = null;
  private geometry: Pool2dGeometry | null = null;

  constructor(options: { backend?: KernelBackend } = {}) {
    super('GlobalMaxPool2d', options);
  }

  forward(x: Tensor): Tensor {
    const out = this.prepare(x);
    const [batch, channels, inHeight, inWidth] = x.shape;
    let g = this.geometry;
    if (!g || g.batch !== batch || g.channels !== channels || g.inHeight !== inHeight || g.inWidth !== inWidth) {
      g = {
        batch, channels, inHeight, inWidth,
        kernelHeight: inHeight, kernelWidth: inWidth, strideHeight: inHeight, strideWidth: inWidth, padHeight: 0, padWidth: 0,
      };
      validatePool2dGeometry(g);
      this.geometry = g;
    }
    const argmax = this.argmax.get(out.size);
    this.backend.maxPool2d(g, x.data, out.data, argmax);
    this.lastArgmax = argmax;
    return out;
  }

  backward(gradOut: Tensor): Tensor {
    checkGradOut(this.label, gradOut, this.lastOutput);
    const g = this.geometry as Pool2dGeometry;
    const gradIn = this.gradInput.get([g.batch, g.channels, g.inHeight, g.inWidth]);
    this.backend.maxPool2dBackward(g, gradOut.data, this.lastArgmax as Int32Array, gradIn.data);
    return gradIn;
  }
}
