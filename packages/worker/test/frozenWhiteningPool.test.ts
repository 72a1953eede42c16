import { CIFAR10_NORMALIZATION, fillBatch } from '@convoy/data';
import { PatchCovariance, whiteningFilters, type LayerModelSpec, type OptimizerSpec } from '@convoy/nn';
import { relativeError, Tensor } from '@convoy/tensor';
import { createGradientPool, syntheticImageSet } from '@convoy/worker';
import { airbenchStem } from './airbenchStem';

/**
 * A network with airbench's pieces through the real piscina pool: the whitening layer's filters come
 * from the training images (normalised, unaugmented) before step 0 and are the same whatever the
 * thread count; frozen parameters never move (no step, no weight decay, no momentum) while the rest
 * trains; 1 and 2 threads give the same parameters; given parameters (a resume) are kept as they are.
 */
const modelSpec: LayerModelSpec = {
  kind: 'layers',
  classes: 10,
  input: { channels: 3, resolution: 32 },
  layers: [
    ...airbenchStem(8, 4),
    { type: 'globalmaxpool2d' },
    { type: 'flatten' },
    { type: 'linear', out: 'classes', frozen: ['bias'] },
    { type: 'scale', by: 1 / 9 },
  ],
};
const sgd: OptimizerSpec = { name: 'sgd', momentum: 0.9, nesterov: true, weightDecay: 5e-4 };
const train = syntheticImageSet({ count: 96, seed: 3 });
const BATCH = 16;

async function trainOn(threads: number, params?: Float32Array): Promise<{ start: Float32Array; end: Float32Array; names: { name: string; offset: number; size: number }[] }> {
  const pool = await createGradientPool({ threads, modelSpec, optimizer: sgd, train, maxBatch: BATCH, seed: 7, normalization: CIFAR10_NORMALIZATION, ...(params ? { params } : {}) });
  try {
    const start = pool.params.data.slice();
    for (let s = 0; s < 3; s++) {
      const indices = Array.from({ length: BATCH }, (_, i) => (s * 37 + i * 5) % train.count);
      const r = await pool.trainStep({ indices, epoch: 0, seed: 11, augment: true, hyper: { step: s, lr: 0.05 } });
      expect(r.stepped).toBe(true);
    }
    return { start, end: pool.params.data.slice(), names: pool.params.entries.map((e) => ({ name: e.name, offset: e.offset, size: e.size })) };
  } finally {
    await pool.close();
  }
}

describe('GradientPool with a whitening layer and frozen parameters', () => {
  let one: Awaited<ReturnType<typeof trainOn>>;
  let two: Awaited<ReturnType<typeof trainOn>>;
  beforeAll(async () => {
    one = await trainOn(1);
    two = await trainOn(2);
  }, 120_000);
  const slice = (values: Float32Array, name: string) => {
    const e = one.names.find((n) => n.name === name)!;
    return values.subarray(e.offset, e.offset + e.size);
  };

  it("starts the whitening layer from the training images' patch statistics (normalised as in training, not augmented)", () => {
    const images = new Float32Array(train.count * 3 * 32 * 32);
    fillBatch(train, Uint32Array.from({ length: train.count }, (_, i) => i), 0, train.count, images, new Int32Array(train.count), { augment: false, normalization: CIFAR10_NORMALIZATION });
    const covariance = new PatchCovariance(3, 2, 2);
    covariance.add(new Tensor(images, [train.count, 3, 32, 32]));
    expect(relativeError(slice(one.start, 'layers.0.weight'), whiteningFilters(covariance.matrix(), 12))).toBeLessThan(1e-6);
    expect(Array.from(slice(two.start, 'layers.0.weight'))).toEqual(Array.from(slice(one.start, 'layers.0.weight')));
  });

  it('never moves frozen parameters, trains the others, and gives 1 thread\'s parameters on 2', () => {
    for (const name of ['layers.0.weight', 'layers.8.bias']) expect(Array.from(slice(one.end, name))).toEqual(Array.from(slice(one.start, name)));
    for (const name of ['layers.0.bias', 'layers.2.weight', 'layers.4.bias', 'layers.8.weight']) {
      expect(relativeError(slice(one.end, name), slice(one.start, name))).toBeGreaterThan(1e-4);
    }
    expect(relativeError(two.end, one.end)).toBeLessThan(1e-5);
  });

  it('keeps given parameters (a resume) instead of computing the whitening again', async () => {
    const given = one.end.slice();
    given[0] += 1; // not what whitening would give
    const resumed = await trainOn(1, given);
    expect(Array.from(resumed.start)).toEqual(Array.from(given));
  });
});
