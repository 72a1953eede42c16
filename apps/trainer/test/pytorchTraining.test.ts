import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { allocateImageSet, epochOrder, fillBatch } from '@convoy/data';
import { layerKey } from '@convoy/nn';
import { DEFAULT_RUN_CONFIG, hyperparameterSchedules } from '@convoy/run';
import { Rng } from '@convoy/tensor';
import { PYTHON, pythonProblem } from './exportNetwork';

/**
 * tools/pytorch/train_model_file.py trains a model file's PyTorch module with convoy's recipe, so
 * that its CIFAR-10 accuracy can stand beside convoy's (benchmarks/RESULTS.md). Its ports of what
 * convoy draws and schedules must give convoy's values exactly: the epoch order, the augmented and
 * normalised batch (crop offsets and flips from the keyed Rng), the one-cycle learning rate and
 * momentum per step, and the keyed dropout uniforms (its vectorised Rng).
 */
const root = join(__dirname, '..', '..', '..');
const problem = pythonProblem(['torch', 'numpy']);
const SEED = 2 ** 40 + 7; // a seed above 2^32 exercises both 32-bit words of every key

interface Reply {
  order: number[];
  batch: string;
  labels: number[];
  lr: number[];
  momentum: number[];
  uniforms: number[][];
}

describe('train_model_file.py (PyTorch) against convoy', () => {
  (problem ? it.skip : it)(`draws the same epoch order, augmented batch, one-cycle schedule and dropout uniforms${problem ? ` — skipped: ${problem}` : ''}`, () => {
    const set = allocateImageSet(40);
    const rng = Rng.forKey(3, 1);
    for (let i = 0; i < set.images.length; i++) set.images[i] = rng.int(256);
    for (let i = 0; i < set.count; i++) set.labels[i] = i % 10;
    const indices = Array.from(epochOrder(set.count, SEED, 2).subarray(0, 24));
    const images = new Float32Array(indices.length * 3 * 32 * 32);
    const labels = new Int32Array(indices.length);
    fillBatch(set, indices, 0, indices.length, images, labels, { augment: true, seed: SEED, epoch: 2 });
    const total = 2 * 390;
    const steps = [0, 1, 117, 233, 234, 235, 500, total - 1];
    const schedules = hyperparameterSchedules({ ...DEFAULT_RUN_CONFIG, epochs: 2 }, 390);
    const key = layerKey('layers.18');
    const samples = [0, 1, 77, 127];

    const request = {
      order: { count: 1000, seed: SEED, epoch: 3 },
      batch: { pixels: Buffer.from(set.images).toString('base64'), labels: Array.from(set.labels), indices, augment: true, seed: SEED, epoch: 2 },
      schedule: { lr: DEFAULT_RUN_CONFIG.lr, momentum: DEFAULT_RUN_CONFIG.momentum, total, warmup: DEFAULT_RUN_CONFIG.warmup, steps },
      dropout: { seed: SEED, step: 321, samples, key, count: 40 },
    };
    const run = spawnSync(PYTHON, [join(root, 'tools', 'pytorch', 'check_training_recipe.py')], { input: JSON.stringify(request), encoding: 'utf8', maxBuffer: 1 << 26 });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const reply = JSON.parse(run.stdout) as Reply;

    expect(reply.order).toEqual(Array.from(epochOrder(1000, SEED, 3)));
    const torchBatch = new Float32Array(Uint8Array.from(Buffer.from(reply.batch, 'base64')).buffer);
    expect(torchBatch.length).toBe(images.length);
    let mismatches = 0;
    for (let i = 0; i < images.length; i++) if (torchBatch[i] !== images[i]) mismatches++;
    expect(mismatches).toBe(0);
    expect(reply.labels).toEqual(Array.from(labels));
    expect(reply.lr).toEqual(steps.map((s) => schedules.lr(s)));
    expect(reply.momentum).toEqual(steps.map((s) => schedules.momentum!(s)));
    const uniforms = samples.map((sample) => {
      const r = Rng.forKey(SEED, 321, sample, key);
      return Array.from({ length: 40 }, () => r.uniform());
    });
    expect(reply.uniforms).toEqual(uniforms);
  });
});
