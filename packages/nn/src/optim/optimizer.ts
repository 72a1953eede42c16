import { ParameterArena } from '@convoy/tensor';
import { checkFiniteNumber, checkNonNegativeInteger } from '../options';

export interface OptimizerStepArgs {
  /** The parameter arena (or its `.data`). Updated in place. */
  params: Float32Array | ParameterArena;
  /** The (already reduced, already averaged) gradient, same layout. */
  grads: Float32Array | ParameterArena;
  /** Learning rate for this step (from a schedule). */
  lr: number;
  /** 1-based index of this optimizer step; AdamW's bias correction uses it. */
  step: number;
  /** Flat range [start, end) to update; default the whole arena. Disjoint ranges may run on different threads. */
  start?: number;
  end?: number;
}

/**
 * Where optimizer state lives. By default each state array is a fresh Float32Array of `size`
 * zeros; `shared: true` puts them on SharedArrayBuffers; `state` adopts arrays made elsewhere (e.g.
 * the coordinator's shared arrays received by a worker, or arrays restored from a checkpoint), so
 * several threads can step disjoint ranges of the same state.
 */
export interface OptimizerStateOptions {
  /** Number of parameters (the arena's `size`). */
  size: number;
  shared?: boolean;
  state?: Record<string, Float32Array>;
}

export interface Optimizer {
  readonly kind: string;
  readonly size: number;
  /** Named state arrays, each `size` long, indexed like the parameter arena. */
  readonly state: Readonly<Record<string, Float32Array>>;
  step(args: OptimizerStepArgs): void;
}

export const STATE_OPTION_KEYS = ['size', 'shared', 'state'] as const;

export function allocateState(kind: string, names: readonly string[], options: OptimizerStateOptions): Record<string, Float32Array> {
  const size = checkNonNegativeInteger(`${kind}: size (number of parameters)`, options.size);
  const state: Record<string, Float32Array> = {};
  for (const name of names) {
    const given = options.state?.[name];
    if (given) {
      if (!(given instanceof Float32Array) || given.length !== size) {
        throw new RangeError(`${kind}: state '${name}' must be a Float32Array of ${size} elements, got ${given instanceof Float32Array ? given.length : typeof given}`);
      }
      state[name] = given;
    } else if (options.state) {
      throw new RangeError(`${kind}: state is missing '${name}'; expected arrays ${names.join(', ')}`);
    } else {
      state[name] = options.shared ? new Float32Array(new SharedArrayBuffer(size * 4)) : new Float32Array(size);
    }
  }
  return state;
}

export interface ResolvedStep {
  p: Float32Array;
  g: Float32Array;
  lr: number;
  start: number;
  end: number;
}

export function resolveStep(kind: string, size: number, args: OptimizerStepArgs): ResolvedStep {
  const p = args.params instanceof ParameterArena ? args.params.data : args.params;
  const g = args.grads instanceof ParameterArena ? args.grads.data : args.grads;
  if (p.length !== size || g.length !== size) {
    throw new RangeError(`${kind}.step: params (${p.length}) and grads (${g.length}) must both have the optimizer's size ${size}`);
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
