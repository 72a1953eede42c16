import type { ParameterArena, ParameterSpec, Rng, Tensor } from '@convoy/tensor';
import { Module } from '../module';
import { BatchNorm2d } from './batchnorm2d';
import { Conv2d } from './conv2d';
import { MaxPool2d } from './pooling';
import { ReLU } from './relu';

export interface SequentialOptions {
  /**
   * Fuse each ReLU that sits between a Conv2d and a Conv2d or MaxPool2d into its neighbours
   * (default false): the conv before applies it in its kernel's output pass, the layer after masks
   * its input gradient, and the ReLU passes tensors through. Same results, two passes over the
   * activations fewer per ReLU.
   */
  fuseReLU?: boolean;
}

/**
 * Runs children in order, as torch.nn.Sequential. Children are named by position ('0', '1', ...)
 * when given as an array, or by key when given as a record, so parameter names match PyTorch's
 * state_dict keys (`features.0.conv1.weight`).
 */
export class Sequential extends Module {
  readonly kind = 'Sequential';
  readonly children: ReadonlyArray<{ key: string; module: Module }>;

  constructor(children: Module[] | Record<string, Module>, options: SequentialOptions = {}) {
    super();
    const entries = Array.isArray(children)
      ? children.map((module, i) => ({ key: String(i), module }))
      : Object.entries(children).map(([key, module]) => ({ key, module }));
    for (const { key, module } of entries) {
      if (!(module instanceof Module)) {
        throw new TypeError(`Sequential: child '${key}' is not a Module (got ${Object.prototype.toString.call(module)})`);
      }
      if (key === '' || key.includes('.')) throw new RangeError(`Sequential: child name '${key}' must be non-empty and contain no '.'`);
    }
    this.children = entries;
    this.setName('');
    if (options.fuseReLU) fuseReLUs(entries.map((e) => e.module));
  }

  override setName(name: string): void {
    this.name = name;
    for (const { key, module } of this.children ?? []) module.setName(name ? `${name}.${key}` : key);
  }

  override childModules(): readonly Module[] {
    return this.children.map((c) => c.module);
  }

  /** A child by key: `model.child('features')`. */
  child(key: string): Module {
    const found = this.children.find((c) => c.key === key);
    if (!found) throw new RangeError(`${this.label}: no child '${key}'; children: ${this.children.map((c) => c.key).join(', ')}`);
    return found.module;
  }

  override parameterSpecs(): ParameterSpec[] {
    return this.children.flatMap(({ module }) => module.parameterSpecs());
  }

  override bind(params: ParameterArena, grads: ParameterArena): void {
    for (const { module } of this.children) module.bind(params, grads);
  }

  override initialize(rng: Rng): void {
    for (const { module } of this.children) module.initialize(rng);
  }

  forward(x: Tensor): Tensor {
    let y = x;
    for (const { module } of this.children) y = module.forward(y);
    return y;
  }

  backward(gradOut: Tensor): Tensor {
    let g = gradOut;
    for (let i = this.children.length - 1; i >= 0; i--) g = this.children[i].module.backward(g);
    return g;
  }
}

/**
 * Conv2d -> ReLU -> (Conv2d | MaxPool2d): the ReLU's two passes move into its neighbours' kernels.
 * BatchNorm2d -> ReLU: the BatchNorm applies the ReLU in its output pass and masks its gradient.
 */
function fuseReLUs(modules: Module[]): void {
  for (let i = 1; i < modules.length; i++) {
    const [before, relu] = [modules[i - 1], modules[i]];
    if (relu instanceof ReLU && before instanceof BatchNorm2d) {
      before.fuseReLUAfter();
      relu.fuse();
    }
  }
  for (let i = 1; i + 1 < modules.length; i++) {
    const [before, relu, after] = [modules[i - 1], modules[i], modules[i + 1]];
    if (!(relu instanceof ReLU) || !(before instanceof Conv2d)) continue;
    if (!(after instanceof Conv2d || after instanceof MaxPool2d)) continue;
    before.fuseReLUAfter();
    after.fuseReLUBefore();
    relu.fuse();
  }
}
