import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadCifar10, selectSubsets } from '@convoy/data';
import { checkModelFile } from '@convoy/nn';
import { loadCheckpoint } from '../src/checkpoint';
import { exportOnnx, exportSafetensors } from '../src/commands/export';
import { describeOnnxExport, describeSafetensorsExport, onnxChecker, onnxruntimeRun, pytorchRun } from '../test/exportChecks';
import {
  cifar10TestImages, convoyLogits, drawnImages, largestDifference, lossAndAccuracy, pythonProblem, trainedLookingNetwork, type TestImages,
} from '../test/exportNetwork';

const dataDir = process.env.CIFAR10_DIR;
if (!dataDir) throw new Error('the e2e checks need real CIFAR-10: set CIFAR10_DIR to the folder holding test_batch.bin');

// The exports against PyTorch and onnxruntime on real CIFAR-10 test images.
const images = cifar10TestImages(dataDir, 100);
describeSafetensorsExport(images);
describeOnnxExport(images);

const MODELS = join(__dirname, '..', '..', '..', 'models');
const torchProblem = pythonProblem(['torch', 'numpy']);
const checkerProblem = pythonProblem(['onnx']);

// Every example model file, with weights and BatchNorm statistics away from their initial values.
describe.each(readdirSync(MODELS).filter((f) => f.endsWith('.json')).sort())('the example model file models/%s, exported', (file) => {
  const checked = checkModelFile(JSON.parse(readFileSync(join(MODELS, file), 'utf8')), 10);
  const { model, source } = trainedLookingNetwork({ kind: 'layers', classes: 10, ...checked.spec }, 17);
  const { channels, resolution } = checked.spec.input;
  const examples = drawnImages(3, channels, resolution, 8);
  const ours = convoyLogits(model, examples, source.normalization, resolution);

  it("to ONNX: onnxruntime's logits equal convoy's within 1e-4, and onnx's checker takes it", () => {
    const bytes = exportOnnx(source);
    expect(largestDifference(ours, onnxruntimeRun(bytes, examples, source).logits)).toBeLessThan(1e-4);
    if (!checkerProblem) expect(onnxChecker(bytes).outputShape).toBe("['N', 10]");
  });

  (torchProblem ? it.skip : it)("to safetensors: rebuilt in PyTorch from the file alone, logits equal convoy's within 1e-4", () => {
    expect(largestDifference(ours, pytorchRun(exportSafetensors(source), examples).logits)).toBeLessThan(1e-4);
  });
});

const bin = join(__dirname, '..', 'bin', 'convoy.js');

function convoy(args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { ...process.env, NX_TASK_TARGET_PROJECT: '' } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** convoy eval's test subset (--limit-test n: class-balanced), as pixels and labels. */
async function evalSubset(n: number): Promise<TestImages> {
  const { test } = selectSubsets(await loadCifar10({ dataDir: dataDir as string, download: false }), { limitTest: n });
  return { pixels: test.images, labels: test.labels, count: test.count, source: `convoy eval's ${n} CIFAR-10 test images (--limit-test ${n})` };
}

describe('a BatchNorm network trained by the built CLI (--model recipe-bn), exported, scores on CIFAR-10 test images as convoy eval does', () => {
  const dir = mkdtempSync(join(tmpdir(), 'convoy-export-e2e-'));
  const run = join(dir, 'run');
  const limitTest = 2000;
  let test: TestImages;
  let evaluated: { images: number; testLoss: number; testAccuracy: number };

  beforeAll(async () => {
    // recipe-bn: the recipe with a BatchNorm after every conv, so the running statistics travel from training through the checkpoint into both exports.
    const train = convoy(['train', '--data-dir', dataDir, '--no-download', '--threads', '2', '--model', 'recipe-bn', '--width', '8', '--epochs', '2', '--limit-train', '2560',
      '--limit-test', '200', '--batch-size', '64', '--checkpoint-dir', run]);
    if (train.code !== 0) throw new Error(`convoy train failed:\n${train.err}`);
    const ev = convoy(['eval', run, '--data-dir', dataDir, '--no-download', '--threads', '2', '--limit-test', String(limitTest), '--json']);
    if (ev.code !== 0) throw new Error(`convoy eval failed:\n${ev.err}`);
    evaluated = JSON.parse(ev.out) as typeof evaluated;
    expect(evaluated.images).toBe(limitTest);
    expect(evaluated.testAccuracy).toBeGreaterThan(0.15);
    test = await evalSubset(limitTest);
  });

  it('--format onnx in onnxruntime: the same test loss (1e-4) and accuracy (up to 2 near-ties)', () => {
    const out = convoy(['export', run, '--format', 'onnx']);
    expect(out.code).toBe(0);
    const { state } = loadCheckpoint(run);
    expect(state.buffers.entries.filter((e) => e.name.endsWith('running_var')).length).toBe(6);
    const theirs = lossAndAccuracy(onnxruntimeRun(readFileSync(join(run, 'latest.onnx')), test, state).logits, test.labels!);
    console.log(`onnxruntime on ${test.count} test images: loss ${theirs.loss.toFixed(6)} acc ${(100 * theirs.accuracy).toFixed(2)}%; convoy eval: loss ${evaluated.testLoss.toFixed(6)} acc ${(100 * evaluated.testAccuracy).toFixed(2)}%`);
    expect(Math.abs(theirs.loss - evaluated.testLoss)).toBeLessThan(1e-4);
    expect(Math.abs(theirs.accuracy - evaluated.testAccuracy)).toBeLessThanOrEqual(2 / test.count + 1e-9);
  });

  (torchProblem ? it.skip : it)('safetensors rebuilt in PyTorch: the same test loss (1e-4) and accuracy (up to 2 near-ties)', () => {
    const out = convoy(['export', run]);
    expect(out.code).toBe(0);
    const theirs = lossAndAccuracy(pytorchRun(readFileSync(join(run, 'latest.safetensors')), test).logits, test.labels!);
    console.log(`PyTorch on ${test.count} test images: loss ${theirs.loss.toFixed(6)} acc ${(100 * theirs.accuracy).toFixed(2)}%`);
    expect(Math.abs(theirs.loss - evaluated.testLoss)).toBeLessThan(1e-4);
    expect(Math.abs(theirs.accuracy - evaluated.testAccuracy)).toBeLessThanOrEqual(2 / test.count + 1e-9);
  });
});
