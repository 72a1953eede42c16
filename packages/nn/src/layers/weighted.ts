import { biasUniform, kaimingUniform, ParameterArena, ParameterSpec, Rng, Tensor } from '@convoy/tensor';
import { ReusableTensor } from '../buffers';
import { checkGradOut } from '../checks';
import { Module } from '../module';

/**
 * A layer with a weight and an optional bias of `outputs` values, initialised as PyTorch does
 * (Kaiming-uniform weight, bias uniform in +-1/sqrt(fanIn)), whose backward needs its forward input:
 * what Conv2d and Linear share.
 */
export abstract class WeightedModule extends Module {
  abstract readonly hasBias: boolean;
  protected weight: Tensor | null = null;
  protected bias: Tensor | null = null;
  protected gradWeight: Tensor | null = null;
  protected gradBias: Tensor | null = null;
  protected readonly output = new ReusableTensor();
  protected readonly gradInput = new ReusableTensor();
  private input: Tensor | null = null;
  private lastOutput: Tensor | null = null;

  /** The weight's shape (PyTorch's). */
  protected abstract weightShape(): number[];
  /** Inputs per output (the initialisation's scale). */
  abstract get fanIn(): number;

  override parameterSpecs(): ParameterSpec[] {
    const shape = this.weightShape();
    const specs = [{ name: this.parameterName('weight'), shape }];
    if (this.hasBias) specs.push({ name: this.parameterName('bias'), shape: [shape[0]] });
    return specs;
  }

  override bind(params: ParameterArena, grads: ParameterArena): void {
    const [w, b] = this.parameterSpecs();
    ({ value: this.weight, grad: this.gradWeight } = this.bindParameter(params, grads, w));
    if (b) ({ value: this.bias, grad: this.gradBias } = this.bindParameter(params, grads, b));
  }

  override initialize(rng: Rng): void {
    const { weight } = this.bound();
    kaimingUniform(weight.data, this.fanIn, rng);
    if (this.bias) biasUniform(this.bias.data, this.fanIn, rng);
  }

  protected bound(): { weight: Tensor; gradWeight: Tensor } {
    if (!this.weight || !this.gradWeight) {
      throw new Error(`${this.label}: parameters are not bound; call bind(params, grads) (or createParameters(model)) first`);
    }
    return { weight: this.weight, gradWeight: this.gradWeight };
  }

  /** Ends a forward: keeps its input for backward and its output's shape to check gradOut against. */
  protected keepForBackward(x: Tensor, out: Tensor): Tensor {
    this.input = x;
    this.lastOutput = out;
    return out;
  }

  /** Starts a backward: the bound weights and the forward's input, once gradOut has the output's shape. */
  protected backwardState(gradOut: Tensor): { weight: Tensor; gradWeight: Tensor; x: Tensor } {
    const bound = this.bound();
    checkGradOut(this.label, gradOut, this.lastOutput);
    return { ...bound, x: this.input as Tensor };
  }
}
