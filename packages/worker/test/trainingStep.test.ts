import type { ModelSpec, OptimizerSpec } from '@convoy/nn';
import { constantLearningRate, createGradientPool, scheduledStep, StepDivergedError, syntheticImageSet } from '@convoy/worker';

const modelSpec: ModelSpec = { kind: 'recipe', resolution: 32, classes: 10, width: 4 };
const sgd: OptimizerSpec = { name: 'sgd', momentum: 0.9, nesterov: true, weightDecay: 5e-4 };
const train = syntheticImageSet({ count: 48, seed: 3 });
const BATCH = 16;
const batch = (s: number) => ({ indices: Array.from({ length: BATCH }, (_, i) => (s * BATCH + i) % train.count), epoch: 0, seed: 11, augment: true });

describe('scheduledStep', () => {
  it('takes the schedules at the step index and gives the parameters of trainStep with those values', async () => {
    const pools = await Promise.all([1, 2].map(() => createGradientPool({ threads: 1, modelSpec, optimizer: sgd, train, maxBatch: BATCH, seed: 7 })));
    try {
      const schedules = { lr: (step: number) => 0.01 * (step + 1), momentum: (step: number) => 0.85 + 0.01 * step };
      for (let s = 0; s < 3; s++) {
        const result = await scheduledStep(pools[0], schedules, { ...batch(s), step: s });
        expect(result.lr).toBeCloseTo(0.01 * (s + 1), 12);
        await pools[1].trainStep({ ...batch(s), hyper: { step: s, lr: 0.01 * (s + 1), momentum: 0.85 + 0.01 * s } });
      }
      expect(Buffer.from(pools[0].params.data.buffer).equals(Buffer.from(pools[1].params.data.buffer))).toBe(true);
    } finally {
      await Promise.all(pools.map((p) => p.close()));
    }
  });

  it('throws StepDivergedError naming the step, the place and the lr, and leaves the parameters alone', async () => {
    const pool = await createGradientPool({ threads: 1, modelSpec, optimizer: sgd, train, maxBatch: BATCH, seed: 7 });
    try {
      await scheduledStep(pool, constantLearningRate(1e12), { ...batch(0), step: 0 });
      const before = pool.params.data.slice();
      const attempt = scheduledStep(pool, constantLearningRate(1e12), { ...batch(1), step: 1, where: 'epoch 1, batch 2' });
      await expect(attempt).rejects.toThrow(StepDivergedError);
      await expect(scheduledStep(pool, constantLearningRate(1e12), { ...batch(1), step: 1, where: 'epoch 1, batch 2' })).rejects.toThrow(
        /\bdiverged\b.*\bstep 2 \(epoch 1, batch 2, lr 1\.000e\+12\).*\bnot updated\b/,
      );
      expect(pool.params.data).toEqual(before);
    } finally {
      await pool.close();
    }
  });
});
