import { biasUniform, kaimingUniform, ParameterArena, ParameterSpec, Rng, Tensor } from '@convoy/tensor';
import type { KernelBackend } from '@convoy/kernels';
import { ReusableTensor } from '../buffers';
import { checkGradOut } from '../checks';
import { Module } from '../module';

/**
 * How a weight starts: `default` is PyTorch's (Kaiming-uniform weight, bias uniform in
 * +-1/sqrt(fanIn)); `identity` draws the default weight, then sets the first min(outputs, inputs)
 * outputs to copy their own input (torch.nn.init.dirac_ / eye_ on those rows, as airbench's convs
 * do: the rest keep their draw) and zeroes the bias; `whitening` (a conv only) draws as `identity`
 * until the training images set its filters (see whitening.ts).
 */
export type WeightInit = 'default' | 'identity' | 'whitening';

/** Which of a layer's parameters never train: all (true), none (false), or some by local name. */
export type FrozenParameters = boolean | readonly ('weight' | 'bias')[];

/**
 * A layer with a weight and an optional bias of `outputs` values, initialised as `init` says, whose
 * backward needs its forward input:
 * what Conv2d and Linear share.
 */
export abstract class WeightedModule extends Module {
  abstract readonly hasBias: boolean;
  abstract readonly init: WeightInit;
  abstract readonly frozen: FrozenParameters;
  protected weight: Tensor | null = null;
  protected bias: Tensor | null = null;
  protected gradWeight: Tensor | null = null;
  protected gradBias: Tensor | null = null;
  protected readonly output = new ReusableTensor(() => this.storageBackend());
  protected readonly gradInput = new ReusableTensor(() => this.storageBackend());
  private input: Tensor | null = null;
  private lastOutput: Tensor | null = null;

  /** The backend whose `allocate` gives the output and input-gradient storage (none: plain arrays). */
  protected storageBackend(): KernelBackend | undefined {
    return undefined;
  }

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

  override frozenParameters(): string[] {
    const local = this.frozen === true ? ['weight', 'bias'] : this.frozen === false ? [] : this.frozen;
    const own = this.parameterSpecs().map((s) => s.name);
    return local.map((n) => this.parameterName(n)).filter((n) => own.includes(n));
  }

  override initialize(rng: Rng): void {
    const { weight } = this.bound();
    kaimingUniform(weight.data, this.fanIn, rng);
    if (this.init === 'default') {
      if (this.bias) biasUniform(this.bias.data, this.fanIn, rng);
      return;
    }
    const [outputs, inputs] = weight.shape;
    const area = weight.size / (outputs * inputs);
    // PyTorch's dirac_ puts the one at the kernel's centre index floor(k / 2) in each dimension.
    const kh = weight.shape[2] ?? 1;
    const kw = weight.shape[3] ?? 1;
    const centre = Math.floor(kh / 2) * kw + Math.floor(kw / 2);
    const rows = Math.min(outputs, inputs);
    weight.data.fill(0, 0, rows * inputs * area);
    for (let o = 0; o < rows; o++) weight.data[(o * inputs + o) * area + centre] = 1;
    this.bias?.data.fill(0);
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
