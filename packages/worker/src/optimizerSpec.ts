import { AdamW, SGD, type Optimizer } from '@convoy/nn';
import type { OptimizerSpec } from './protocol';

/**
 * Builds nn's optimizer from a plain spec. With `state`, the optimizer adopts those arrays (a worker
 * adopting the coordinator's shared state); without, it allocates its own on shared memory.
 */
export function createOptimizer(spec: OptimizerSpec, size: number, state?: Record<string, Float32Array>): Optimizer {
  const stateOptions = state ? { size, state } : { size, shared: true };
  switch (spec.name) {
    case 'sgd':
      return new SGD({ ...stateOptions, momentum: spec.momentum, nesterov: spec.nesterov, weightDecay: spec.weightDecay });
    case 'adamw':
      return new AdamW({ ...stateOptions, beta1: spec.beta1, beta2: spec.beta2, eps: spec.eps, weightDecay: spec.weightDecay });
    default:
      throw new RangeError(`unknown optimizer '${(spec as { name: string }).name}'; expected sgd or adamw`);
  }
}
