import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { allocateImageSet, type ImageSet } from '@convoy/data';
import type { LayerModelSpec } from '@convoy/nn';
import { DEFAULT_RUN_CONFIG, type RunConfig } from '@convoy/run';
import { relativeError, Rng } from '@convoy/tensor';
import { loadCheckpoint } from '../src/checkpoint';
import { runTraining } from '../src/training';
import { PYTHON, pythonProblem } from './exportNetwork';
import { airbenchStem } from '../../../packages/worker/test/airbenchStem';

/**
 * airbench's optimizer pieces against PyTorch: convoy and tools/pytorch/train_model_file.py train
 * the same model file on the same images with the same flags (a whitening layer set from the
 * images, the BatchNorm parameters as their own group at 64 times the lr with their own weight
 * decay, label smoothing, Lookahead every 3 steps across an epoch boundary and after the last
 * step, the whitening bias trained in the first epoch only), and every step's loss, every parameter and every running statistic must agree to float
 * rounding; then again with the rest of airbench94's recipe (the linear schedule at a fixed
 * momentum, the alternating flip-translate augmentation, and flip-translate test-time augmentation,
 * whose test loss must agree too). The images are drawn pixels written as CIFAR-10 binary files,
 * which both sides read.
 */
const root = join(__dirname, '..', '..', '..');
const problem = pythonProblem(['torch', 'numpy']);
const RECORD = 1 + 3 * 32 * 32;

const modelFile = {
  input: { channels: 3, resolution: 32 },
  layers: [
    ...airbenchStem(8, 8),
    { type: 'conv2d', out: 8, kernel: 3, padding: 1, bias: false },
    { type: 'batchnorm2d', momentum: 0.4, groupSize: 8 },
    { type: 'gelu' },
    { type: 'globalmaxpool2d' },
    { type: 'flatten' },
    { type: 'linear', out: 'classes', bias: false },
    { type: 'scale', by: 1 / 9 },
  ],
};

/** `count` images of drawn pixels, labels cycling through the ten classes. */
function drawnSet(count: number, seed: number): ImageSet {
  const set = allocateImageSet(count);
  const rng = Rng.forKey(seed, 2);
  for (let i = 0; i < set.images.length; i++) set.images[i] = rng.int(256);
  for (let i = 0; i < count; i++) set.labels[i] = (i * 7) % 10;
  return set;
}

/** The images as CIFAR-10 binary records (label byte, then 3 x 32 x 32 bytes, channel-major). */
function records(set: ImageSet, from: number, to: number): Buffer {
  const out = Buffer.alloc((to - from) * RECORD);
  for (let i = from; i < to; i++) {
    out[(i - from) * RECORD] = set.labels[i];
    out.set(set.images.subarray(i * 3072, (i + 1) * 3072), (i - from) * RECORD + 1);
  }
  return out;
}

interface RecipeCase {
  name: string;
  config: Partial<RunConfig>;
  tta: 'none' | 'flip-translate';
  /** The same recipe as train_model_file.py's flags. */
  flags: string[];
}

const cases: RecipeCase[] = [
  { name: 'one-cycle, crop-flip', config: {}, tta: 'none', flags: [] },
  {
    name: 'linear schedule, alternating flip-translate, TTA flip-translate',
    config: { schedule: 'linear', warmup: 0.23, momentum: 0.85, augmentation: 'alternating-flip-translate' },
    tta: 'flip-translate',
    flags: ['--schedule', 'linear', '--warmup', '0.23', '--momentum', '0.85', '--augmentation', 'alternating-flip-translate', '--tta', 'flip-translate'],
  },
];

describe('airbench optimizer pieces against PyTorch (train_model_file.py)', () => {
  (problem ? it.skip.each(cases) : it.each(cases))(`10 steps with a BatchNorm group, label smoothing and Lookahead give PyTorch's losses, parameters and running statistics: $name${problem ? ` — skipped: ${problem}` : ''}`, async (recipe: RecipeCase) => {
    const dir = mkdtempSync(join(tmpdir(), 'convoy-optim-parity-'));
    const train = drawnSet(80, 5);
    const test = drawnSet(40, 6);
    for (let f = 0; f < 5; f++) writeFileSync(join(dir, `data_batch_${f + 1}.bin`), records(train, f * 16, (f + 1) * 16));
    writeFileSync(join(dir, 'test_batch.bin'), records(test, 0, 40));
    writeFileSync(join(dir, 'model.json'), JSON.stringify(modelFile));

    const flags = { epochs: 2, batchSize: 16, lr: 0.05, weightDecay: 5e-4, batchNormLrScale: 64, batchNormWeightDecay: 5e-4 / 64, labelSmoothing: 0.2, lookahead: 3, whiteningBiasEpochs: 1, seed: 9 };
    const config: RunConfig = { ...DEFAULT_RUN_CONFIG, ...flags, ...recipe.config };
    const modelSpec = { kind: 'layers', classes: 10, ...modelFile } as LayerModelSpec;
    const log = join(dir, 'convoy.jsonl');
    const convoy = await runTraining({
      config, modelSpec, train, test,
      execution: { threads: 2, backend: 'auto', dataDir: null, download: false, limitTest: null, maxSteps: null, checkpointDir: join(dir, 'run'), log, tta: recipe.tta },
    });
    expect(convoy.status).toBe('completed');
    expect(convoy.step).toBe(10);

    const state = join(dir, 'pytorch-state.json');
    const run = spawnSync(PYTHON, [
      join(root, 'tools', 'pytorch', 'train_model_file.py'), join(dir, 'model.json'), '--data-dir', dir,
      '--epochs', '2', '--batch-size', '16', '--lr', '0.05', '--weight-decay', '5e-4', '--seed', '9',
      '--batch-norm-lr-scale', '64', '--batch-norm-weight-decay', String(5e-4 / 64), '--label-smoothing', '0.2', '--lookahead', '3', '--whitening-bias-epochs', '1',
      '--log', join(dir, 'pytorch.jsonl'), '--save-state', state, ...recipe.flags,
    ], { encoding: 'utf8' });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);

    const losses = (file: string) => readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string; loss: number }).filter((r) => r.type === 'step').map((r) => r.loss);
    const convoyLosses = losses(log);
    const torchLosses = losses(join(dir, 'pytorch.jsonl'));
    expect(convoyLosses).toHaveLength(10);
    expect(torchLosses).toHaveLength(10);
    expect(relativeError(Float64Array.from(convoyLosses), Float64Array.from(torchLosses))).toBeLessThan(1e-5);

    // Every tensor of PyTorch's state_dict by name (convoy's names are PyTorch's), the run's final (averaged) values.
    const torch = JSON.parse(readFileSync(state, 'utf8')) as Record<string, number[]>;
    const written = loadCheckpoint(convoy.checkpoint!).state;
    const tables = [[convoy.params, written.parameters], [convoy.buffers, written.buffers.entries]] as const;
    const names = tables.flatMap(([, entries]) => entries.map((e) => e.name));
    expect(names.sort()).toEqual(Object.keys(torch).sort());
    const apart = tables.flatMap(([values, entries]) =>
      entries.map((e) => [e.name, relativeError(values.subarray(e.offset, e.offset + e.size), Float32Array.from(torch[e.name]))] as const));
    expect(apart.filter(([, error]) => error > 1e-5)).toEqual([]);

    if (recipe.tta !== 'none') {
      const records = (file: string) => readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
      const convoyLast = records(log).filter((r) => r.type === 'epoch').pop()!;
      const torchEnd = records(join(dir, 'pytorch.jsonl')).find((r) => r.type === 'end')!;
      expect(convoyLast.tta).toBe(recipe.tta);
      expect(torchEnd.tta).toBe(recipe.tta);
      expect(Math.abs((convoyLast.ttaTestLoss as number) - (torchEnd.ttaLoss as number))).toBeLessThan(1e-5 * Math.abs(torchEnd.ttaLoss as number));
    }
  }, 180_000);
});
