import { createGradientPool, syntheticImageSet } from '@convoy/worker';
import type { StepMeasurement, StepNetwork } from './trainingStep';

/** Sides the worker pool's image sets have (its ImageSet holds 32x32 RGB images). */
export const POOL_RESOLUTIONS: readonly number[] = [32];

/**
 * The trainer's data-parallel training step on `threads` worker threads (@convoy/worker's
 * GradientPool: shard gradients in shared memory, then the reduce fused with the optimizer step; SGD with
 * Nesterov momentum 0.9, weight decay 5e-4), on consecutive batches of a synthetic image set. Two
 * warm-up steps, then steps until `minSteps` and `budgetSeconds` are both reached; the median step.
 */
export async function measurePoolStep(
  threads: number, batch: number, budgetSeconds: number, network: StepNetwork, backend = 'wasm', minSteps = 5,
): Promise<StepMeasurement> {
  if (!POOL_RESOLUTIONS.includes(network.resolution)) {
    throw new RangeError(`the worker pool trains ${POOL_RESOLUTIONS.join(', ')}-pixel images only, not R=${network.resolution}`);
  }
  const train = syntheticImageSet({ count: batch * 4, seed: 1 });
  const pool = await createGradientPool({
    threads,
    modelSpec: { kind: 'recipe', resolution: network.resolution, classes: 10, width: network.width },
    backend,
    optimizer: { name: 'sgd', momentum: 0.9, nesterov: true, weightDecay: 5e-4 },
    train,
    maxBatch: batch,
    seed: 1,
  });
  try {
    let n = 0;
    const step = async () => {
      const start = (n * batch) % (train.count - batch + 1);
      const indices = Array.from({ length: batch }, (_, i) => start + i);
      const t0 = performance.now();
      await pool.trainStep({ indices, epoch: 0, seed: 1, augment: false, hyper: { step: n++, lr: 0.01 } });
      return (performance.now() - t0) / 1000;
    };
    await step();
    await step();
    const times: number[] = [];
    const begin = performance.now();
    while (times.length < minSteps || ((performance.now() - begin) / 1000 < budgetSeconds && times.length < 200)) times.push(await step());
    const backendName = (await pool.describe())[0].backend;
    const secondsPerStep = [...times].sort((a, b) => a - b)[times.length >> 1];
    return {
      backend: backendName, batch, secondsPerStep, imagesPerSecond: batch / secondsPerStep,
      imagesPerCpuSecond: Number.NaN, steps: times.length,
    };
  } finally {
    await pool.close();
  }
}
