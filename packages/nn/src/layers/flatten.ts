import { formatShape, Tensor } from '@convoy/tensor';
import { checkGradOut } from '../checks';
import { Module } from '../module';
import { checkOptions } from '../options';

/** [N, ...] -> [N, prod(...)] as torch.nn.Flatten(): a view, no copy, in both directions. */
export class Flatten extends Module {
  readonly kind = 'Flatten';
  private inputShape: number[] | null = null;
  private lastInput: Tensor | null = null;
  private lastOutput: Tensor | null = null;
  private lastGradOut: Tensor | null = null;
  private lastGradIn: Tensor | null = null;
  private gradInShape: number[] | null = null;

  constructor(options: Record<string, never> = {}) {
    super();
    checkOptions('Flatten', options, []);
  }

  forward(x: Tensor): Tensor {
    if (x.shape.length < 1 || x.shape[0] < 1) {
      throw new RangeError(`${this.label}: expected input of shape [N, ...] with N >= 1, got ${formatShape(x.shape)}`);
    }
    // The previous layer hands back the same tensor object every step: reuse the view too.
    if (x !== this.lastInput) {
      this.lastInput = x;
      this.inputShape = x.shape;
      this.lastOutput = x.reshape([x.shape[0], x.size / x.shape[0]]);
    }
    return this.lastOutput as Tensor;
  }

  backward(gradOut: Tensor): Tensor {
    checkGradOut(this.label, gradOut, this.lastOutput);
    if (gradOut !== this.lastGradOut || this.gradInShape !== this.inputShape) {
      this.lastGradOut = gradOut;
      this.gradInShape = this.inputShape;
      this.lastGradIn = gradOut.reshape(this.inputShape as number[]);
    }
    return this.lastGradIn as Tensor;
  }
}
