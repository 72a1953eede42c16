import { formatShape, Tensor } from '@convoy/tensor';
import { checkGradOut } from '../checks';
import { Module } from '../module';
import { checkOptions } from '../options';

/** [N, ...] -> [N, prod(...)] as torch.nn.Flatten(): a view, no copy, in both directions. */
export class Flatten extends Module {
  readonly kind = 'Flatten';
  private inputShape: number[] | null = null;
  private lastOutput: Tensor | null = null;

  constructor(options: Record<string, never> = {}) {
    super();
    checkOptions('Flatten', options, []);
  }

  forward(x: Tensor): Tensor {
    if (x.shape.length < 1 || x.shape[0] < 1) {
      throw new RangeError(`${this.label}: expected input of shape [N, ...] with N >= 1, got ${formatShape(x.shape)}`);
    }
    this.inputShape = x.shape;
    this.lastOutput = x.reshape([x.shape[0], x.size / x.shape[0]]);
    return this.lastOutput;
  }

  backward(gradOut: Tensor): Tensor {
    checkGradOut(this.label, gradOut, this.lastOutput);
    return gradOut.reshape(this.inputShape as number[]);
  }
}
