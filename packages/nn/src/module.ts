import { assertShape, type ParameterArena, type ParameterSpec, type Rng, type Tensor } from '@convoy/tensor';

/**
 * What a layer may need to know about the training step it runs in, beyond its input. Set on the
 * whole tree with `setStepContext` before each training forward. Everything here is a property of
 * the GLOBAL batch, never of the shard a thread or host happens to hold, so every split of the
 * batch computes the same numbers (docs/ARCHITECTURE.md, determinism):
 * - Dropout draws each image's mask from `Rng.forKey(seed, step, sample, layerKey)`, where
 *   `sample = batchOffset + i` is the image's position in the global batch;
 * - BatchNorm2d computes batch statistics over fixed ghost groups of images: global positions
 *   [k·G, (k+1)·G), so a shard must start on a group boundary and end on one (or at the end of the
 *   global batch).
 */
export interface StepContext {
  /** The run's seed (`--seed`). */
  seed: number;
  /** The optimizer step this forward belongs to (0-based, counted over the whole run). */
  step: number;
  /** Position of this module's first input image within the global batch. Default 0. */
  batchOffset?: number;
  /** Images in the global batch. Default: the batch this module is given (a single-process step). */
  globalBatch?: number;
  /**
   * True when the caller collects the BatchNorm group statistics (`collectGroupStatistics`) and
   * applies them itself in global group order (a worker: its coordinator reduces them); false
   * (default) when each BatchNorm updates its own running statistics right after its forward.
   */
  deferStatistics?: boolean;
}

/**
 * The module protocol every layer follows:
 * 1. `parameterSpecs()` lists the parameters with their full dotted names (`features.0.conv1.weight`),
 * 2. `bind(params, grads)` points the module at its views in a parameter arena and a gradient arena
 *    with the same layout (arenas may live on shared memory; the module never copies them),
 * 3. `initialize(rng)` draws initial values into the bound parameters,
 * 4. `forward(x)` computes and caches what backward needs; `backward(gradOut)` returns the input
 *    gradient and OVERWRITES this module's parameter gradients in the gradient arena.
 *
 * 5. `train(mode)` / `eval()` switch the whole tree between training and evaluation (BatchNorm uses its
 *    running statistics and Dropout passes through in eval), as torch.nn.Module;
 * 6. `bufferSpecs()` / `bindBuffers(buffers)` / `resetBuffers()`: non-trainable state (BatchNorm's
 *    `running_mean`, `running_var`, `num_batches_tracked`, named as PyTorch's state_dict keys) in an
 *    arena of its own, never touched by the optimizer; stored in checkpoints beside the parameters;
 * 7. `setStepContext(ctx)`: the per-step facts a layer needs (see StepContext).
 *
 * Containers list their children in `childModules()`; the tree-wide calls (train, buffers, step
 * context) recurse through it, so a new container needs only that.
 *
 * Outputs live in buffers owned by the module and are reused by the next call (they grow only when
 * the batch grows), so a caller that wants to keep an output across calls must copy it.
 */
export abstract class Module {
  /** Dotted path of this module inside its model ('' for a root); parameter names extend it. */
  name = '';
  /** The class of layer, used in error messages ('Conv2d', 'ReLU', ...). */
  abstract readonly kind: string;
  /** Training mode (default) or evaluation mode; set the whole tree with train()/eval(). */
  training = true;
  /** The current step's context (see StepContext); null until set. */
  protected stepContext: StepContext | null = null;

  /** Direct children of a container, in forward order; [] for a leaf layer. */
  childModules(): readonly Module[] {
    return [];
  }

  /** Sets training mode (true) or evaluation mode (false) on this module and all below it. */
  train(mode = true): this {
    if (typeof mode !== 'boolean') throw new TypeError(`${this.label}: train(mode) takes true or false, got ${JSON.stringify(mode)}`);
    this.training = mode;
    for (const child of this.childModules()) child.train(mode);
    return this;
  }

  /** Evaluation mode, as train(false). */
  eval(): this {
    return this.train(false);
  }

  /** Passes the step's context to this module and all below it (see StepContext). */
  setStepContext(ctx: StepContext): void {
    this.stepContext = ctx;
    for (const child of this.childModules()) child.setStepContext(ctx);
  }

  /** Non-trainable state, with full dotted names (`layers.1.running_mean`); [] for most layers. */
  bufferSpecs(): ParameterSpec[] {
    return this.childModules().flatMap((child) => child.bufferSpecs());
  }

  /** Points the module at its views in a buffer arena (made from `bufferSpecs()`). */
  bindBuffers(buffers: ParameterArena): void {
    for (const child of this.childModules()) child.bindBuffers(buffers);
  }

  /** Puts the bound buffers at their initial values (running mean 0, running variance 1, count 0). */
  resetBuffers(): void {
    for (const child of this.childModules()) child.resetBuffers();
  }

  /**
   * Floats of batch statistics one ghost group of images yields in this tree's last training forward
   * (BatchNorm: mean and unbiased variance per channel); the row size of collectGroupStatistics.
   */
  groupStatisticsSize(): number {
    let n = 0;
    for (const child of this.childModules()) n += child.groupStatisticsSize();
    return n;
  }

  /**
   * Writes the group statistics of the last training forward into `rows` (rows of `rowSize` =
   * the root's groupStatisticsSize() floats, one per ghost group; this module's groups at rows
   * firstRow, firstRow + 1, ...), each layer at `column` onwards within the row, in tree order.
   * Returns the next column.
   */
  writeGroupStatistics(rows: Float32Array, rowSize: number, firstRow: number, column: number): number {
    let c = column;
    for (const child of this.childModules()) c = child.writeGroupStatistics(rows, rowSize, firstRow, c);
    return c;
  }

  /**
   * Updates the running statistics from ONE group's row (as written by writeGroupStatistics),
   * reading this module's part from `column` onwards. Returns the next column. Applying the rows of
   * a global batch in group order gives the same buffers whatever split computed them.
   */
  applyGroupStatistics(row: Float32Array, column: number): number {
    let c = column;
    for (const child of this.childModules()) c = child.applyGroupStatistics(row, c);
    return c;
  }

  parameterSpecs(): ParameterSpec[] {
    return [];
  }

  /**
   * Full names of this tree's parameters that never train (a model file's `frozen`): the optimizer
   * skips them (no step, no weight decay, no momentum), yet they are saved and exported as any other.
   */
  frozenParameters(): string[] {
    return this.childModules().flatMap((child) => child.frozenParameters());
  }

  /**
   * Full names of this tree's BatchNorm parameters (weight and bias, those it has): the parameters
   * a run may step as their own group (an lr scale and a weight decay of their own).
   */
  batchNormParameters(): string[] {
    return this.childModules().flatMap((child) => child.batchNormParameters());
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
