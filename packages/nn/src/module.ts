import { assertShape, type ParameterArena, type ParameterSpec, type Rng, type Tensor } from '@convoy/tensor';

/**
 * The module protocol every layer follows:
 * 1. `parameterSpecs()` lists the parameters with their full dotted names (`features.0.conv1.weight`),
 * 2. `bind(params, grads)` points the module at its views in a parameter arena and a gradient arena
 *    with the same layout (arenas may live on shared memory; the module never copies them),
 * 3. `initialize(rng)` draws initial values into the bound parameters,
 * 4. `forward(x)` computes and caches what backward needs; `backward(gradOut)` returns the input
 *    gradient and OVERWRITES this module's parameter gradients in the gradient arena.
 *
 * Outputs live in buffers owned by the module and are reused by the next call (they grow only when
 * the batch grows), so a caller that wants to keep an output across calls must copy it.
 */
export abstract class Module {
  /** Dotted path of this module inside its model ('' for a root); parameter names extend it. */
  name = '';
  /** The class of layer, used in error messages ('Conv2d', 'ReLU', ...). */
  abstract readonly kind: string;

  parameterSpecs(): ParameterSpec[] {
    return [];
  }

  bind(_params: ParameterArena, _grads: ParameterArena): void {
    /* parameter-free by default */
  }

  initialize(_rng: Rng): void {
    /* parameter-free by default */
  }

  abstract forward(x: Tensor): Tensor;
  abstract backward(gradOut: Tensor): Tensor;

  /** Sets this module's dotted path; containers override it to rename their children. */
  setName(name: string): void {
    this.name = name;
  }

  /** The full name of a local parameter: `features.0.conv1` + `weight`. */
  protected parameterName(local: string): string {
    return this.name ? `${this.name}.${local}` : local;
  }

  /** One parameter's views in the two arenas, checked against the shape this module declared for it. */
  protected bindParameter(params: ParameterArena, grads: ParameterArena, spec: ParameterSpec): { value: Tensor; grad: Tensor } {
    const value = params.tensor(spec.name);
    const grad = grads.tensor(spec.name);
    assertShape(value.shape, spec.shape, spec.name);
    assertShape(grad.shape, spec.shape, `gradient ${spec.name}`);
    return { value, grad };
  }

  /** `Conv2d features.0.conv1` (or just `Conv2d` for an unnamed layer), for error messages. */
  protected get label(): string {
    return this.name ? `${this.kind} ${this.name}` : this.kind;
  }
}
