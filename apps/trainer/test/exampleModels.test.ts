import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createWasmBackend } from '@convoy/kernels';
import { buildModel, checkModelFile, createParameters, recipeModelFile, type LayerListSpec } from '@convoy/nn';
import { Rng, Tensor } from '@convoy/tensor';
import { largestDifference, PYTHON, pythonProblem } from './exportNetwork';

/**
 * The example model files in models/ (README, "Your own network"): each checks, builds, runs, and
 * is summarised by `convoy model summary`; and tools/pytorch/model_file.py builds the same network
 * from it (state_dict names = convoy's parameter and buffer names, eval logits within 1e-4).
 */
const root = join(__dirname, '..', '..', '..');
const modelsDir = join(root, 'models');
const files = readdirSync(modelsDir).filter((f) => f.endsWith('.json')).sort();
const read = (file: string): LayerListSpec => JSON.parse(readFileSync(join(modelsDir, file), 'utf8')) as LayerListSpec;
const CLASSES = 10;
const SEED = 7;

/** Two images of the file's input size, drawn as the PyTorch fixtures draw theirs (4u - 2). */
function images(spec: LayerListSpec): Tensor {
  const { channels, resolution } = spec.input;
  const x = Tensor.zeros([2, channels, resolution, resolution]);
  const rng = Rng.forKey(SEED, 1);
  for (let i = 0; i < x.size; i++) x.data[i] = 4 * rng.uniform() - 2;
  return x;
}

describe('the example model files', () => {
  it('are the eight the README lists', () => {
    expect(files).toEqual(['airbench93.json', 'airbench94.json', 'allconv.json', 'grey28.json', 'mlp-head.json', 'recipe.json', 'resnet224.json', 'resnet9-half.json']);
  });

  it("include airbench94's network: a frozen whitening conv, identity convs at 64/256/256, weightless BatchNorm, 1.97 M parameters", () => {
    const airbench = checkModelFile(read('airbench94.json'), CLASSES);
    expect(airbench.spec.layers[0]).toMatchObject({ type: 'conv2d', out: 24, kernel: 2, init: 'whitening', frozen: ['weight'] });
    expect(airbench.rows.filter((r) => r.type === 'conv2d').map((r) => r.outShape)).toEqual([[24, 31, 31], [64, 31, 31], [64, 15, 15], [256, 15, 15], [256, 7, 7], [256, 7, 7], [256, 3, 3]]);
    expect(airbench.rows.filter((r) => r.type === 'batchnorm2d').map((r) => r.parameters)).toEqual([64, 64, 256, 256, 256, 256]);
    expect([airbench.parameters, airbench.frozen, airbench.multiplyAdds]).toEqual([1_971_640, 288, 118_147_360]);
  });

  it('include the recipe network exactly as its preset, and a grey 28x28 network that keeps 28 (no resize)', () => {
    expect(read('recipe.json').layers).toEqual(recipeModelFile({ resolution: 32, width: 32 }).layers);
    const grey = checkModelFile(read('grey28.json'), CLASSES);
    expect(grey.spec.input).toEqual({ channels: 1, resolution: 28 });
    expect(grey.rows.filter((r) => r.type === 'maxpool2d').map((r) => r.outShape.slice(1))).toEqual([[14, 14], [7, 7]]);
    const resnet = checkModelFile(read('resnet9-half.json'), CLASSES);
    expect(resnet.rows.filter((r) => r.type === 'residual')).toHaveLength(2);
    expect(resnet.rows.filter((r) => r.type === 'batchnorm2d')).toHaveLength(8);
  });

  /** Sizes as [height, width] pairs (not in an example file): checked against PyTorch with the files. */
  const pairs = {
    input: { channels: 3, resolution: 12 },
    layers: [
      { type: 'conv2d', out: 6, kernel: [1, 3], stride: [1, 2], padding: [0, 1] }, { type: 'relu' },
      { type: 'maxpool2d', kernel: [2, 1] }, { type: 'avgpool2d', kernel: 3, stride: [2, 1], padding: [1, 0] },
      { type: 'flatten' }, { type: 'linear', out: 'classes' },
    ],
  } as LayerListSpec;
  /** Each file built and run by convoy: its checked form, the model, its parameters and its eval logits on two images. */
  const runs = new Map([...files, 'pairs'].map((file) => {
    const json = file === 'pairs' ? pairs : read(file);
    const checked = checkModelFile(json, CLASSES);
    const model = buildModel({ kind: 'layers', classes: CLASSES, ...checked.spec }, { backend: createWasmBackend() });
    const { params } = createParameters(model, { seed: SEED });
    model.eval();
    const x = images(json);
    return [file, { json, checked, model, params, x, logits: Float32Array.from(model.forward(x).data), shape: model.forward(x).shape }] as const;
  }));

  describe.each(files)('%s', (file) => {
    it('checks, builds with the parameters its summary counts, and gives finite class scores', () => {
      const { json, checked, model, logits, shape } = runs.get(file)!;
      expect(typeof (json as { description?: unknown }).description).toBe('string');
      expect(model.parameterSpecs().reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0)).toBe(checked.parameters);
      expect(shape).toEqual([2, CLASSES]);
      expect(Array.from(logits).every(Number.isFinite)).toBe(true);
    });

    it('is summarised by convoy model summary', () => {
      const r = spawnSync(process.execPath, [join(__dirname, '..', 'bin', 'convoy.js'), 'model', 'summary', join(modelsDir, file)], { encoding: 'utf8' });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      const { checked } = runs.get(file)!;
      const frozen = checked.frozen > 0 ? ` (${(checked.parameters - checked.frozen).toLocaleString('en-US')} trainable, ${checked.frozen.toLocaleString('en-US')} frozen)` : '';
      expect(r.stdout).toContain(`total: ${checked.parameters.toLocaleString('en-US')} parameters${frozen}, ${checked.multiplyAdds.toLocaleString('en-US')} multiply-adds`);
    });
  });

  const problem = pythonProblem(['torch', 'numpy']);
  (problem ? it.skip : it)(`are the same networks in PyTorch (tools/pytorch/model_file.py): state_dict names and shapes, eval logits within 1e-4 (and a network with [height, width] sizes)${problem ? ` — skipped: ${problem}` : ''}`, () => {
    const float32 = (values: Float32Array): string => Buffer.from(values.buffer, values.byteOffset, values.byteLength).toString('base64');
    const checked = [...files, 'pairs'];
    const jobs = checked.map((file) => {
      const { json, model, params, x } = runs.get(file)!;
      const parameters = model.parameterSpecs().map((s) => ({ name: s.name, shape: s.shape, float32: float32(params.tensor(s.name).data) }));
      return { model: json, classes: CLASSES, input: { shape: x.shape, float32: float32(x.data) }, parameters };
    });
    const run = spawnSync(PYTHON, [join(root, 'tools', 'pytorch', 'check_model_file.py')], { input: JSON.stringify({ jobs }), encoding: 'utf8', maxBuffer: 1 << 26 });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const { results } = JSON.parse(run.stdout) as { results: { names: { name: string; shape: number[] }[]; logits: number[] }[] };
    checked.forEach((file, i) => {
      const { model, logits } = runs.get(file)!;
      const torchNames = Object.fromEntries(results[i].names.map((n) => [n.name, n.shape]));
      const convoyNames = Object.fromEntries([...model.parameterSpecs(), ...model.bufferSpecs()].map((s) => [s.name, s.shape]));
      // num_batches_tracked is a scalar in PyTorch and a one-float buffer in convoy.
      for (const name of Object.keys(torchNames)) if (name.endsWith('num_batches_tracked')) torchNames[name] = convoyNames[name];
      expect({ file, names: torchNames }).toEqual({ file, names: convoyNames });
      const scale = Math.max(1, ...results[i].logits.map(Math.abs));
      expect({ file, difference: largestDifference(logits, results[i].logits) / scale < 1e-4 }).toEqual({ file, difference: true });
    });
  });
});
