import { ParameterArena, ParameterArenaOptions, Rng } from '@convoy/tensor';
import type { Module } from './module';

export interface ModelParameters {
  params: ParameterArena;
  grads: ParameterArena;
  /** Non-trainable state (BatchNorm running statistics), bound and at initial values; empty for most models. */
  buffers: ParameterArena;
}

/**
 * Allocates a parameter arena and a matching gradient arena for a model and binds the model to
 * them, and its buffers (see Module.bufferSpecs) to a third arena, reset to their initial values.
 * With `seed`, also initialises the parameters (PyTorch's default initialisation).
 */
export function createParameters(
  model: Module,
  options: { shared?: boolean; seed?: number; rng?: Rng } = {},
): ModelParameters {
  const specs = model.parameterSpecs();
  const arenaOptions: ParameterArenaOptions = options.shared ? { shared: true } : {};
  const params = new ParameterArena(specs, arenaOptions);
  const grads = new ParameterArena(specs, arenaOptions);
  model.bind(params, grads);
  const buffers = new ParameterArena(model.bufferSpecs(), arenaOptions);
  model.bindBuffers(buffers);
  model.resetBuffers();
  const rng = options.rng ?? (options.seed !== undefined ? new Rng(options.seed) : undefined);
  if (rng) model.initialize(rng);
  return { params, grads, buffers };
}

/** Number of scalar parameters of a model. */
export function countParameters(model: Module): number {
  return ParameterArena.sizeOf(model.parameterSpecs());
}
