import { buildModel, createParameters, softmaxCrossEntropy, type OptimizerSpec } from '@convoy/nn';
import { fillBatch } from '@convoy/data';
import { relativeError, Tensor } from '@convoy/tensor';
import { createGradientPool, splitBatch, syntheticImageSet, type GradientPool } from '@convoy/worker';
import { BATCHNORM_NETWORK } from './batchNormNetwork';
import { inProcessHosts } from './inProcessHosts';

/**
 * A network with BatchNorm (ghost groups of 4 images), a residual block and dropout trains to the
 * same parameters AND running statistics on 1 thread, 4 threads and 2 hosts x 2 threads, through
 * the real piscina pool: group statistics are computed per ghost group of the global batch and
 * applied in group order by the pool, dropout masks are keyed by the image's place in the batch.
 */
const modelSpec = BATCHNORM_NETWORK;
const sgd: OptimizerSpec = { name: 'sgd', momentum: 0.9, nesterov: true, weightDecay: 5e-4 };
const train = syntheticImageSet({ count: 96, seed: 3 });
const test = syntheticImageSet({ count: 24, seed: 4 });
const BATCH = 16;
const STEPS = 3;

function batchOf(step: number): number[] {
  return Array.from({ length: BATCH }, (_, i) => (step * 37 + i * 5) % train.count);
}


interface Trained { params: Float32Array; buffers: Float32Array; evaluation: { loss: number; correct: number } }

async function trainOn(hosts: number, threads: number): Promise<Trained[]> {
  const reducers = hosts > 1 ? inProcessHosts(hosts) : [undefined];
  const pools: GradientPool[] = await Promise.all(
    reducers.map((crossHost) => createGradientPool({ threads, modelSpec, optimizer: sgd, train, test, maxBatch: BATCH, seed: 7, crossHost, evalChunk: 5 })),
  );
  try {
    for (let s = 0; s < STEPS; s++) {
      const global = batchOf(s);
      const shares = splitBatch(BATCH, hosts, pools[0].groupSize);
      const results = await Promise.all(pools.map((pool, h) => pool.trainStep({
        indices: global.slice(shares[h].start, shares[h].end), globalBatch: BATCH, batchOffset: shares[h].start,
        epoch: 0, seed: 11, augment: true, hyper: { step: s, lr: 0.05 },
      })));
      for (const r of results) expect(r.stepped).toBe(true);
    }
    const out: Trained[] = [];
    for (const pool of pools) {
      const e = await pool.evaluate('test');
      out.push({ params: pool.params.data.slice(), buffers: pool.buffers.data.slice(), evaluation: { loss: e.loss, correct: e.correct } });
    }
    return out;
  } finally {
    await Promise.all(pools.map((p) => p.close()));
  }
}

describe('GradientPool with BatchNorm, a residual block and dropout', () => {
  let single: Trained;

  beforeAll(async () => {
    [single] = await trainOn(1, 1);
  }, 120_000);

  it('keeps running statistics that moved: one update per ghost group per step', () => {
    const model = buildModel(modelSpec);
    const names = model.bufferSpecs().map((b) => b.name);
    expect(names).toEqual([
      'layers.1.running_mean', 'layers.1.running_var', 'layers.1.num_batches_tracked',
      'layers.3.layers.1.running_mean', 'layers.3.layers.1.running_var', 'layers.3.layers.1.num_batches_tracked',
    ]);
    const { buffers } = createParameters(model);
    buffers.data.set(single.buffers);
    expect(buffers.tensor('layers.1.num_batches_tracked').data[0]).toBe(STEPS * (BATCH / 4));
    expect(Array.from(buffers.tensor('layers.3.layers.1.running_mean').data).some((v) => v !== 0)).toBe(true);
    expect(Array.from(buffers.tensor('layers.1.running_var').data).some((v) => v !== 1)).toBe(true);
  });

  it('gives the parameters and buffers of 1 thread on 4 threads', async () => {
    const [four] = await trainOn(1, 4);
    expect(relativeError(four.params, single.params)).toBeLessThan(1e-5);
    expect(relativeError(four.buffers, single.buffers)).toBeLessThan(1e-5);
    expect(four.evaluation.correct).toBe(single.evaluation.correct);
    expect(four.evaluation.loss).toBeCloseTo(single.evaluation.loss, 5);
  }, 120_000);

  it('gives them on 2 hosts x 2 threads too, the same on every host', async () => {
    const hosts = await trainOn(2, 2);
    for (const h of hosts) {
      expect(relativeError(h.params, single.params)).toBeLessThan(1e-5);
      expect(relativeError(h.buffers, single.buffers)).toBeLessThan(1e-5);
    }
    expect(hosts[1].buffers).toEqual(hosts[0].buffers);
  }, 120_000);

  it('evaluates with the running statistics and without dropout (an in-process eval-mode forward)', async () => {
    const model = buildModel(modelSpec);
    const { params, buffers } = createParameters(model);
    params.data.set(single.params);
    buffers.data.set(single.buffers);
    model.eval();
    const images = new Float32Array(test.count * 3 * 32 * 32);
    const labels = new Int32Array(test.count);
    fillBatch(test, Uint32Array.from({ length: test.count }, (_, i) => i), 0, test.count, images, labels, { augment: false, seed: 0, epoch: 0 });
    const { loss } = softmaxCrossEntropy(model.forward(new Tensor(images, [test.count, 3, 32, 32])), labels);
    expect(single.evaluation.loss).toBeCloseTo(loss, 4);
  });

  it('refuses a host share that cuts a ghost group, naming the sizes that work', async () => {
    const pool = await createGradientPool({ threads: 1, modelSpec, optimizer: sgd, train, maxBatch: BATCH, seed: 7 });
    try {
      await expect(pool.trainStep({ indices: batchOf(0).slice(6), globalBatch: BATCH, batchOffset: 6, epoch: 0, seed: 1, augment: false, hyper: { step: 0, lr: 0.05 } }))
        .rejects.toThrow(/\bghost group of 4 images\b.*\bmultiples of 4\b/);
    } finally {
      await pool.close();
    }
  });
});
