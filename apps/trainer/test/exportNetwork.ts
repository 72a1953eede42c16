import { openSync, readSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { allocateImageSet, CIFAR10_NORMALIZATION, CIFAR10_RECORD_BYTES, normalizationTable, parseBatchRecords } from '@convoy/data';
import { BatchNorm2d, buildModel, createParameters, type LayerModelSpec, type Module } from '@convoy/nn';
import { Rng, Tensor } from '@convoy/tensor';
import type { ExportSource } from '../src/export/source';

/**
 * Shared by the export tests: a network of every layer type a model file has, with weights and
 * BatchNorm running statistics that are not their initial values, the images to run it on, and
 * convoy's eval-mode logits for them.
 */

/** Every layer type, residual body, padded and strided pools, a non-affine BatchNorm, two global pools. */
export const EVERY_LAYER_SPEC: LayerModelSpec = {
  kind: 'layers',
  classes: 10,
  input: { channels: 3, resolution: 32 },
  layers: [
    { type: 'conv2d', out: 8, kernel: 3, padding: 1, bias: false },
    { type: 'batchnorm2d' },
    { type: 'relu' },
    { type: 'residual', layers: [
      { type: 'conv2d', out: 8, kernel: 3, padding: 1, bias: false },
      { type: 'batchnorm2d' },
      { type: 'gelu' },
    ] },
    { type: 'maxpool2d', kernel: 3, stride: 2, padding: 1 },
    { type: 'conv2d', out: 12, kernel: 3, stride: 2, padding: 1 },
    { type: 'batchnorm2d', affine: false },
    { type: 'relu' },
    { type: 'avgpool2d', kernel: 3, stride: 2, padding: 1 },
    { type: 'dropout', p: 0.2 },
    { type: 'conv2d', out: 16, kernel: 3, padding: 1 },
    { type: 'globalmaxpool2d' },
    { type: 'globalavgpool2d' },
    { type: 'flatten' },
    { type: 'linear', out: 12 },
    { type: 'gelu' },
    { type: 'dropout', p: 0.5 },
    { type: 'linear', out: 'classes' },
    { type: 'scale', by: 8 },
  ],
};

/** Grey 28×28 input, no resize: a 5×5 conv to 24×24, BatchNorm, a residual block with a 3×1 conv, max-pool, MLP head. */
export const GREY_SPEC: LayerModelSpec = {
  kind: 'layers',
  classes: 10,
  input: { channels: 1, resolution: 28 },
  layers: [
    { type: 'conv2d', out: 6, kernel: 5 },
    { type: 'batchnorm2d' },
    { type: 'relu' },
    { type: 'residual', layers: [{ type: 'conv2d', out: 6, kernel: [3, 1], padding: [1, 0] }, { type: 'relu' }] },
    { type: 'maxpool2d', kernel: 2 },
    { type: 'flatten' },
    { type: 'linear', out: 32 },
    { type: 'relu' },
    { type: 'linear', out: 'classes' },
  ],
};

/** A grey image set's normalisation (mean and std of MNIST-like digits). */
export const GREY_NORMALIZATION = { mean: [0.1307], std: [0.3081] };

export const CIFAR10_CLASS_NAMES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];

/**
 * The network of `spec` with seeded weights, and BatchNorm weights, biases and running statistics
 * drawn away from their initial 1, 0, 0, 1 (so an export that dropped or swapped them shows), and
 * 37 batches tracked; in eval mode.
 */
export function trainedLookingNetwork(spec: LayerModelSpec, seed: number): { model: Module; source: ExportSource } {
  const model = buildModel(spec).eval();
  const { params, buffers } = createParameters(model, { seed });
  const rng = Rng.forKey(seed, 2);
  const draw = (lo: number, hi: number) => rng.uniformRange(lo, hi);
  const batchNormParameters = new Set<string>();
  const visit = (m: Module): void => {
    if (m instanceof BatchNorm2d) m.parameterSpecs().forEach((p) => batchNormParameters.add(p.name));
    m.childModules().forEach(visit);
  };
  visit(model);
  for (const e of params.entries) {
    if (!batchNormParameters.has(e.name)) continue;
    const values = params.data.subarray(e.offset, e.offset + e.size);
    values.forEach((_, i) => (values[i] = e.name.endsWith('.weight') ? draw(0.5, 1.5) : draw(-0.5, 0.5)));
  }
  for (const e of buffers.entries) {
    const values = buffers.data.subarray(e.offset, e.offset + e.size);
    if (e.name.endsWith('running_mean')) values.forEach((_, i) => (values[i] = draw(-0.3, 0.3)));
    if (e.name.endsWith('running_var')) values.forEach((_, i) => (values[i] = draw(0.5, 2)));
    if (e.name.endsWith('num_batches_tracked')) values[0] = 37;
  }
  return {
    model,
    source: {
      modelSpec: spec,
      classNames: CIFAR10_CLASS_NAMES.slice(0, spec.classes),
      resolution: spec.input.resolution,
      normalization: spec.input.channels === 1 ? GREY_NORMALIZATION : CIFAR10_NORMALIZATION,
      parameters: params.entries.map((e) => ({ name: e.name, shape: e.shape.slice(), offset: e.offset, size: e.size })),
      params: params.data,
      buffers: { entries: buffers.entries.map((e) => ({ name: e.name, shape: e.shape.slice(), offset: e.offset, size: e.size })), data: buffers.data },
    },
  };
}

/** Uint8 pixels (NCHW) of `count` images and where they came from. */
export interface TestImages {
  pixels: Uint8Array;
  /** Their classes, where known (real images). */
  labels?: Uint8Array;
  count: number;
  source: string;
}

/** The first `count` images of CIFAR-10's test set (test_batch.bin in `dir`). */
export function cifar10TestImages(dir: string, count: number): TestImages {
  const file = join(dir, 'test_batch.bin');
  const bytes = Buffer.alloc(count * CIFAR10_RECORD_BYTES);
  const fd = openSync(file, 'r');
  try {
    if (readSync(fd, bytes, 0, bytes.length, 0) !== bytes.length) throw new Error(`${file}: shorter than ${count} records`);
  } finally {
    closeSync(fd);
  }
  const set = allocateImageSet(count);
  parseBatchRecords(bytes, set, 0, file);
  return { pixels: Uint8Array.from(set.images), labels: Uint8Array.from(set.labels), count, source: `the first ${count} CIFAR-10 test images (${file})` };
}

/** Eval-mode logits of `model` for uint8 pixels normalised as in training, [count, classes] flattened. */
export function convoyLogits(model: Module, images: TestImages, normalization: { readonly mean: readonly number[]; readonly std: readonly number[] }, resolution: number): Float32Array {
  const channels = normalization.mean.length;
  const table = normalizationTable(normalization);
  const plane = resolution * resolution;
  const input = Float32Array.from(images.pixels, (v, i) => table[(Math.floor(i / plane) % channels) * 256 + v]);
  return Float32Array.from(model.forward(new Tensor(input, [images.count, channels, resolution, resolution])).data);
}

/** Mean softmax cross-entropy and accuracy of [count, classes] logits against labels. */
export function lossAndAccuracy(logits: ArrayLike<number>, labels: Uint8Array): { loss: number; accuracy: number } {
  const classes = logits.length / labels.length;
  let loss = 0;
  let correct = 0;
  for (let i = 0; i < labels.length; i++) {
    let max = -Infinity;
    let best = 0;
    for (let k = 0; k < classes; k++) if (logits[i * classes + k] > max) [max, best] = [logits[i * classes + k], k];
    let sum = 0;
    for (let k = 0; k < classes; k++) sum += Math.exp(logits[i * classes + k] - max);
    loss += Math.log(sum) + max - logits[i * classes + labels[i]];
    if (best === labels[i]) correct++;
  }
  return { loss: loss / labels.length, accuracy: correct / labels.length };
}

/** Largest |a[i] - b[i]|; the lengths must agree. */
export function largestDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new RangeError(`lengths differ: ${a.length} and ${b.length}`);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

export const PYTHON = '/usr/bin/python3';

/**
 * Why /usr/bin/python3 cannot import `modules` (null when it can). Without them the Python checks
 * say so and are skipped, unless CONVOY_PYTHON_TESTS=1 (CI) makes that a failure.
 */
export function pythonProblem(modules: string[]): string | null {
  const run = spawnSync(PYTHON, ['-c', `import ${modules.join(', ')}`], { encoding: 'utf8' });
  const problem = run.error ? `${PYTHON}: ${run.error.message}` : run.status !== 0 ? `${PYTHON} cannot import ${modules.join(', ')}: ${run.stderr.trim().split('\n').pop()}` : null;
  if (problem && process.env.CONVOY_PYTHON_TESTS === '1') throw new Error(`CONVOY_PYTHON_TESTS=1 but ${problem} (Debian: apt-get install python3-torch python3-onnx)`);
  return problem;
}

/** `count` images of uint8 pixels drawn from a keyed Rng (when no real images are at hand). */
export function drawnImages(count: number, channels: number, resolution: number, seed: number): TestImages {
  const rng = Rng.forKey(seed, 1);
  const pixels = Uint8Array.from({ length: count * channels * resolution * resolution }, () => rng.int(256));
  return { pixels, count, source: `${count} images of pixels drawn by Rng.forKey(${seed}, 1)` };
}

/** Real CIFAR-10 test images when $CIFAR10_DIR is set, drawn pixels otherwise. */
export function imagesForExportChecks(count: number): TestImages {
  const dir = process.env.CIFAR10_DIR;
  return dir ? cifar10TestImages(dir, count) : drawnImages(count, 3, 32, 5);
}
