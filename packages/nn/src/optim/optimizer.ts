import { ParameterArena } from '@convoy/tensor';
import { checkFiniteNumber, checkNonNegativeInteger } from '../options';

export interface OptimizerStepArgs {
  /** The parameter arena (or its `.data`). Updated in place. */
  params: Float32Array | ParameterArena;
  /** The (already reduced, already averaged) gradient, same layout. */
  grads: Float32Array | ParameterArena;
  /** Learning rate for this step (from a schedule). */
  lr: number;
  /** 1-based count of optimizer steps including this one (PyTorch's `t`); AdamW's bias correction uses it. */
  step: number;
  /** SGD: the momentum for this step (a one-cycle schedule varies it); default the constructor's. AdamW ignores it. */
  momentum?: number;
  /** The weight decay for this step's range (a parameter group's); default the constructor's. */
  weightDecay?: number;
  /** Flat range [start, end) to update; default the whole arena. Disjoint ranges may run on different threads. */
  start?: number;
  end?: number;
}

/**
 * Where optimizer state lives. By default each state array is a Float32Array of `size` zeros,
 * allocated at construction when `size` is given, else at the first step (from the arena's size).
 * `shared: true` puts them on SharedArrayBuffers; `state` adopts arrays made elsewhere (e.g. the
 * coordinator's shared arrays received by a worker, or arrays restored from a checkpoint), so
 * several threads can step disjoint ranges of the same state.
 */
export interface OptimizerStateOptions {
  /** Number of parameters (the arena's `size`); optional, see above. */
  size?: number;
  shared?: boolean;
  state?: Record<string, Float32Array>;
}

export interface Optimizer {
  readonly kind: string;
  /** Number of parameters, or undefined until the state is allocated. */
  readonly size: number | undefined;
  /** Named state arrays, each `size` long, indexed like the parameter arena ({} until allocated). */
  readonly state: Readonly<Record<string, Float32Array>>;
  step(args: OptimizerStepArgs): void;
}

export const STATE_OPTION_KEYS = ['size', 'shared', 'state'] as const;

/** The named state arrays of one optimizer: adopted, allocated up front, or allocated on first use. */
export class OptimizerStateStore {
  private arrays: Record<string, Float32Array> = {};
  private allocatedSize: number | undefined;
  private readonly shared: boolean;

  constructor(private readonly kind: string, private readonly names: readonly string[], options: OptimizerStateOptions) {
    this.shared = options.shared ?? false;
    if (options.size !== undefined) checkNonNegativeInteger(`${kind}: size (number of parameters)`, options.size);
    if (options.state) {
      const size = options.size ?? options.state[names[0]]?.length;
      for (const name of names) {
        const given = options.state[name];
        if (!given) throw new RangeError(`${kind}: state is missing '${name}'; expected arrays ${names.join(', ')}`);
        if (!(given instanceof Float32Array) || given.length !== size) {
          throw new RangeError(`${kind}: state '${name}' must be a Float32Array of ${size} elements, got ${given instanceof Float32Array ? given.length : typeof given}`);
        }
        this.arrays[name] = given;
      }
      this.allocatedSize = size;
    } else if (options.size !== undefined) {
      this.allocate(options.size);
    }
  }

  get size(): number | undefined {
    return this.allocatedSize;
  }

  get state(): Readonly<Record<string, Float32Array>> {
    return this.arrays;
  }

  /** The arrays for an arena of `size` parameters, allocating them on first use. */
  ensure(size: number): Readonly<Record<string, Float32Array>> {
    if (this.allocatedSize === undefined) this.allocate(size);
    else if (this.allocatedSize !== size) {
      throw new RangeError(`${this.kind}.step: params have ${size} elements but the optimizer state has ${this.allocatedSize}; use one optimizer per model`);
    }
    return this.arrays;
  }

  private allocate(size: number): void {
    for (const name of this.names) {
      this.arrays[name] = this.shared ? new Float32Array(new SharedArrayBuffer(size * 4)) : new Float32Array(size);
    }
    this.allocatedSize = size;
  }
}

export interface ResolvedStep {
  p: Float32Array;
  g: Float32Array;
  lr: number;
  start: number;
  end: number;
}

export function resolveStep(kind: string, args: OptimizerStepArgs): ResolvedStep {
  const p = args.params instanceof ParameterArena ? args.params.data : args.params;
  const g = args.grads instanceof ParameterArena ? args.grads.data : args.grads;
  const size = p.length;
  if (g.length !== size) {
    throw new RangeError(`${kind}.step: params (${p.length}) and grads (${g.length}) must have the same size`);
  }
  const lr = checkFiniteNumber(`${kind}.step: lr`, args.lr, 0);
  const start = args.start ?? 0;
  const end = args.end ?? size;
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end > size || start > end) {
    throw new RangeError(`${kind}.step: range [${start}, ${end}) must satisfy 0 <= start <= end <= ${size}`);
  }
  if (!Number.isInteger(args.step) || args.step < 1) {
    throw new RangeError(`${kind}.step: step must be the 1-based index of this step, got ${args.step}`);
  }
  return { p, g, lr, start, end };
}

/**
 * What SGD and AdamW share: their state arrays in an OptimizerStateStore, which each assigns in its
 * constructor once its own options are checked (so a bad option is reported before bad state).
 */
export abstract class StatefulOptimizer {
  protected store!: OptimizerStateStore;

  /** Number of parameters, or undefined until the first step allocates the state. */
  get size(): number | undefined {
    return this.store.size;
  }

  get state(): Readonly<Record<string, Float32Array>> {
    return this.store.state;
  }
}
