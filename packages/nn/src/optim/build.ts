import { AdamW } from './adamw';
import type { Optimizer, OptimizerStateOptions } from './optimizer';
import { SGD } from './sgd';
import type { ParameterGroup } from './trainable';

/**
 * An optimizer described as plain JSON, so a worker thread (or another process) rebuilds exactly
 * the coordinator's optimizer from a message; its state arrays travel separately.
 */
export type OptimizerSpec = (
  | { name: 'sgd'; momentum: number; nesterov: boolean; weightDecay: number }
  | { name: 'adamw'; beta1: number; beta2: number; eps: number; weightDecay: number }
) & {
  /**
   * The model's BatchNorm parameters step as their own group: lr times `lrScale`, and this weight
   * decay instead of the optimizer's (see ParameterGroup). Absent: they step as every other parameter.
   */
  batchNorm?: GroupSettings;
  /**
   * The whitening layer's bias (whiteningBiasName) trains for this many optimizer steps only, then
   * stays as it is: no step, no weight decay, no momentum (airbench trains it for 3 epochs). Absent: always.
   */
  whiteningBiasSteps?: number;
};

/** A parameter group's own settings: its lr is the schedule's times lrScale; weightDecay replaces the optimizer's. */
export type GroupSettings = Omit<ParameterGroup, 'names'>;

/** The names of the state arrays an optimizer of this spec keeps (each one value per parameter). */
export function optimizerStateNames(spec: OptimizerSpec): string[] {
  switch (spec.name) {
    case 'sgd':
      return ['momentumBuffer'];
    case 'adamw':
      return ['expAvg', 'expAvgSq'];
    default:
      throw new RangeError(`unknown optimizer '${(spec as { name: string }).name}'; expected sgd or adamw`);
  }
}

/** Builds nn's optimizer from a spec; `state` says where its state arrays live (see OptimizerStateOptions). */
export function buildOptimizer(spec: OptimizerSpec, state: OptimizerStateOptions = {}): Optimizer {
  switch (spec.name) {
    case 'sgd':
      return new SGD({ ...state, momentum: spec.momentum, nesterov: spec.nesterov, weightDecay: spec.weightDecay });
    case 'adamw':
      return new AdamW({ ...state, beta1: spec.beta1, beta2: spec.beta2, eps: spec.eps, weightDecay: spec.weightDecay });
    default:
      throw new RangeError(`unknown optimizer '${(spec as { name: string }).name}'; expected sgd or adamw`);
  }
}
