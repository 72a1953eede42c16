import { Tensor } from '@convoy/tensor';
import { LayerOutputs } from '../buffers';
import { Module } from '../module';
import { checkFiniteNumber } from '../options';

/** Multiplies by a constant (e.g. logits by 0.125), any shape; no parameters. */
export class Scale extends Module {
  readonly kind = 'Scale';
  readonly factor: number;
  private readonly outputs = new LayerOutputs(() => this.label);

  constructor(factor: number) {
    super();
    this.factor = checkFiniteNumber('Scale: factor', factor);
  }

  forward(x: Tensor): Tensor {
    const out = this.outputs.output(x.shape);
    const f = this.factor;
    const xd = x.data;
    const od = out.data;
    for (let i = 0; i < xd.length; i++) od[i] = xd[i] * f;
    return out;
  }

  backward(gradOut: Tensor): Tensor {
    const gradIn = this.outputs.gradInput(gradOut, gradOut.shape);
    const f = this.factor;
    const dy = gradOut.data;
    const dx = gradIn.data;
    for (let i = 0; i < dy.length; i++) dx[i] = dy[i] * f;
    return gradIn;
  }
}
