import { Tensor } from '@convoy/tensor';
import { ReusableTensor } from '../buffers';
import { checkGradOut } from '../checks';
import { Module } from '../module';
import { checkOptions } from '../options';

/** max(0, x) element-wise, any shape. The gradient passes where the output is positive (as PyTorch). */
export class ReLU extends Module {
  readonly kind = 'ReLU';
  private readonly output = new ReusableTensor();
  private readonly gradInput = new ReusableTensor();
  private lastOutput: Tensor | null = null;

  constructor(options: Record<string, never> = {}) {
    super();
    checkOptions('ReLU', options, []);
  }

  forward(x: Tensor): Tensor {
    const out = this.output.get(x.shape);
    const xd = x.data;
    const od = out.data;
    for (let i = 0; i < xd.length; i++) {
      const v = xd[i];
      od[i] = v > 0 ? v : 0;
    }
    this.lastOutput = out;
    return out;
  }

  backward(gradOut: Tensor): Tensor {
    const out = checkGradOut(this.label, gradOut, this.lastOutput);
    const gradIn = this.gradInput.get(out.shape);
    const od = out.data;
    const gy = gradOut.data;
    const gx = gradIn.data;
    for (let i = 0; i < od.length; i++) gx[i] = od[i] > 0 ? gy[i] : 0;
    return gradIn;
  }
}
