import { GradientPool, type GradientPoolOptions } from './gradientPool';
import { piscinaRunner } from './piscinaRunner';

/** Creates a pool on piscina worker threads (the package's one way to make one under Node); see GradientPool. */
export async function createGradientPool(options: GradientPoolOptions): Promise<GradientPool> {
  return new GradientPool(options, piscinaRunner(options.workerFile));
}
