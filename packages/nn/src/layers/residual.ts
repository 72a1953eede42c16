import { ParameterArena, ParameterSpec, Rng, shapesEqual, formatShape, Tensor } from '@convoy/tensor';
import { LayerOutputs } from '../buffers';
import { Module } from '../module';
import { Sequential, SequentialOptions } from './sequential';

/**
 * output = input + body(input), body a Sequential of `layers` (which must keep the shape). Its
 * children are named `layers.0`, `layers.1`, ... below this module, as the PyTorch module that
 * tools/pytorch/model_file.py builds (`layers.3.layers.0.weight`).
 */
export class Residual extends Module {
  readonly kind = 'Residual';
  readonly body: Sequential;
  private readonly outputs = new LayerOutputs(() => this.label);

  constructor(layers: Module[], options: SequentialOptions = {}) {
    super();
    if (!Array.isArray(layers) || layers.length === 0) throw new RangeError('Residual: layers must be a non-empty array of modules');
    this.body = new Sequential(layers, options);
    this.setName('');
  }

  override childModules(): readonly Module[] {
    return [this.body];
  }

  override setName(name: string): void {
    this.name = name;
    this.body?.setName(name ? `${name}.layers` : 'layers');
  }

  override parameterSpecs(): ParameterSpec[] {
    return this.body.parameterSpecs();
  }

  override bind(params: ParameterArena, grads: ParameterArena): void {
    this.body.bind(params, grads);
  }

  override initialize(rng: Rng): void {
    this.body.initialize(rng);
  }

  forward(x: Tensor): Tensor {
    const y = this.body.forward(x);
    if (!shapesEqual(y.shape, x.shape)) {
      throw new RangeError(`${this.label}: the body changes the shape ${formatShape(x.shape)} -> ${formatShape(y.shape)}; a residual body must keep it`);
    }
    const out = this.outputs.output(x.shape);
    const xd = x.data;
    const yd = y.data;
    const od = out.data;
    for (let i = 0; i < od.length; i++) od[i] = xd[i] + yd[i];
    return out;
  }

  backward(gradOut: Tensor): Tensor {
    const gradIn = this.outputs.gradInput(gradOut, gradOut.shape);
    const g = this.body.backward(gradOut);
    const dy = gradOut.data;
    const gd = g.data;
    const dx = gradIn.data;
    for (let i = 0; i < dx.length; i++) dx[i] = dy[i] + gd[i];
    return gradIn;
  }
}
