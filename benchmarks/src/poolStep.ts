import { constantLearningRate, createGradientPool, scheduledStep, syntheticImageSet } from '@convoy/worker';
import { stepModelSpec, type StepMeasurement, type StepNetwork } from './trainingStep';

/**
 * The trainer's data-parallel training step on `threads` worker threads (@convoy/worker's
 * GradientPool: shard gradients in shared memory, then the reduce fused with the optimizer step; SGD with
 * Nesterov momentum 0.9, weight decay 5e-4), on consecutive batches of a fixed image set. Two
 * warm-up steps, then steps until `minSteps` and `budgetSeconds` are both reached; the median step.
 */
export async function measurePoolStep(
  threads: number, batch: number, budgetSeconds: number, network: StepNetwork, backend = 'wasm', minSteps = 5,
): Promise<StepMeasurement> {
  const train = syntheticImageSet({ count: batch * 2, resolution: network.resolution });
  const pool = await createGradientPool({
    threads,
    modelSpec: stepModelSpec(network),
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
      await scheduledStep(pool, constantLearningRate(0.01), { indices, epoch: 0, seed: 1, augment: false, step: n++ });
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
