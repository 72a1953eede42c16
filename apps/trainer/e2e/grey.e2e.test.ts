import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { loadImageFolder } from '@convoy/data';
import { modelInputOf } from '@convoy/nn';
import { loadCheckpoint } from '../src/checkpoint';
import { onnxChecker, onnxruntimeRun, pytorchRun } from '../test/exportChecks';
import { lossAndAccuracy, pythonProblem, type TestImages } from '../test/exportNetwork';

/**
 * A grey network (models/grey28.json: input 1 x 28 x 28) through the built CLI on a folder of grey
 * PNGs made from real CIFAR-10 images (tools/datasets/cifar10-grey-folder.mjs): train, eval,
 * predict (a folder and a single file), export to safetensors and ONNX. The colour twins of the test
 * images (the same pixels before the grey conversion) must be predicted exactly as their grey
 * files: predict converts a colour image as the grey folder was made, by PIL's convert('L').
 */
const dataDir = process.env.CIFAR10_DIR;
if (!dataDir) throw new Error('the e2e checks need real CIFAR-10: set CIFAR10_DIR to the folder holding test_batch.bin');

const ROOT = join(__dirname, '..', '..', '..');
const bin = join(__dirname, '..', 'bin', 'convoy.js');
const work = mkdtempSync(join(tmpdir(), 'convoy-grey-e2e-'));
const env = { ...process.env, NX_TASK_TARGET_PROJECT: '', XDG_CACHE_HOME: join(work, 'cache') };

function run(args: string[]) {
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', env, maxBuffer: 1 << 26 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}
const convoy = (args: string[]) => run([bin, ...args]);

type Line = { file: string; top: Array<{ className: string; probability: number }> };
const lines = (out: string) => out.trim().split('\n').map((l) => JSON.parse(l) as Line);

describe('a 1-channel network on a grey image folder (built CLI, grey CIFAR-10 PNGs at 28 x 28)', () => {
  const grey = join(work, 'grey');
  const colour = join(work, 'colour');
  const checkpointDir = join(work, 'run');
  let evaluated: { images: number; testLoss: number; testAccuracy: number };
  let test: TestImages;

  beforeAll(async () => {
    const made = run([join(ROOT, 'tools', 'datasets', 'cifar10-grey-folder.mjs'), grey, '--train', '320', '--test', '100']);
    if (made.code !== 0) throw new Error(`making the grey folder failed:\n${made.err}`);
    const twins = run([join(ROOT, 'tools', 'datasets', 'cifar10-grey-folder.mjs'), colour, '--train', '10', '--test', '100', '--colour']);
    if (twins.code !== 0) throw new Error(`making the colour folder failed:\n${twins.err}`);
    const trained = convoy(['train', '--data', grey, '--model', join(ROOT, 'models', 'grey28.json'), '--epochs', '1', '--batch-size', '32', '--threads', '2',
      '--optimizer', 'adamw', '--lr', '0.003', '--schedule', 'constant', '--checkpoint-dir', checkpointDir]);
    if (trained.code !== 0) throw new Error(`convoy train failed:\n${trained.err}`);
    // The folder was decoded grey, at the file's side (no --resolution), into 1-channel images.
    expect(trained.out).toMatch(/320 training and 100 test images of 10 classes \(airplane, .*\) at 28x28 grey from /);
    const ev = convoy(['eval', checkpointDir, '--data', grey, '--threads', '2', '--json']);
    if (ev.code !== 0) throw new Error(`convoy eval failed:\n${ev.err}`);
    evaluated = JSON.parse(ev.out) as typeof evaluated;
    const folder = await loadImageFolder(grey, { resolution: 28, channels: 1, cacheDir: null, onProgress: () => undefined });
    test = { pixels: folder.test.images, labels: folder.test.labels, count: folder.test.count, source: 'the grey folder\'s 100 test images' };
  });

  it('records the channels in the checkpoint: a 1 x 28 x 28 network, grey statistics of one channel', () => {
    const { state } = loadCheckpoint(checkpointDir);
    expect(modelInputOf(state.modelSpec)).toEqual({ channels: 1, resolution: 28 });
    expect(state.normalization.mean).toHaveLength(1);
    expect(state.normalization.std).toHaveLength(1);
    expect(state.params.length).toBe(140458);
    expect(evaluated.images).toBe(100);
  });

  it("predict on the test folder gives eval's accuracy; on the colour twins (a folder, and one file alone) exactly the same answers", () => {
    const predicted = convoy(['predict', checkpointDir, join(grey, 'test'), '--threads', '2', '--json', '--top-k', '10']);
    expect(predicted.code).toBe(0);
    const greyLines = lines(predicted.out);
    expect(greyLines).toHaveLength(100);
    const correct = greyLines.filter((l) => l.top[0].className === basename(dirname(l.file))).length;
    expect(correct / 100).toBeCloseTo(evaluated.testAccuracy, 12);

    const fromColour = convoy(['predict', checkpointDir, join(colour, 'test'), '--threads', '2', '--json', '--top-k', '10']);
    expect(fromColour.code).toBe(0);
    const colourLines = lines(fromColour.out);
    const key = (file: string, root: string) => file.slice(root.length);
    expect(colourLines.map((l) => key(l.file, colour))).toEqual(greyLines.map((l) => key(l.file, grey)));
    colourLines.forEach((l, i) => expect(l.top).toEqual(greyLines[i].top));
    // The probabilities are not all one answer: the comparison means something.
    expect(new Set(greyLines.map((l) => l.top[0].className)).size).toBeGreaterThan(1);

    const one = colourLines[7].file;
    const single = convoy(['predict', checkpointDir, one, '--threads', '1', '--json', '--top-k', '10']);
    expect(single.code).toBe(0);
    expect(lines(single.out)[0].top).toEqual(colourLines[7].top);
    // The colour file really is colour (three different planes somewhere), so the conversion was exercised.
    const rgb = spawnSync(process.execPath, ['-e', `require('sharp')(${JSON.stringify(one)}).metadata().then(m => process.stdout.write(String(m.channels)))`], { encoding: 'utf8', cwd: ROOT });
    expect(rgb.stdout.trim()).toBe('3');
  });

  it('--format onnx: input [N, 1, 28, 28]; onnxruntime gives eval\'s loss (1e-4) on the grey test images; onnx\'s checker takes it', () => {
    const out = convoy(['export', checkpointDir, '--format', 'onnx', '-o', join(work, 'grey.onnx')]);
    expect(out.code).toBe(0);
    expect(out.out).toMatch(/1x28x28 input/);
    const { state } = loadCheckpoint(checkpointDir);
    const result = onnxruntimeRun(readFileSync(join(work, 'grey.onnx')), test, state);
    expect(result.dims).toEqual([100, 10]);
    const theirs = lossAndAccuracy(result.logits, test.labels!);
    expect(Math.abs(theirs.loss - evaluated.testLoss)).toBeLessThan(1e-4);
    expect(Math.abs(theirs.accuracy - evaluated.testAccuracy)).toBeLessThanOrEqual(2 / 100 + 1e-9);
    if (!pythonProblem(['onnx'])) expect(onnxChecker(readFileSync(join(work, 'grey.onnx'))).outputShape).toBe("['N', 10]");
  });

  (pythonProblem(['torch', 'numpy']) ? it.skip : it)('safetensors: the first conv takes 1 channel; rebuilt in PyTorch from the file alone, eval\'s loss (1e-4)', () => {
    const out = convoy(['export', checkpointDir, '-o', join(work, 'grey.safetensors')]);
    expect(out.code).toBe(0);
    const bytes = readFileSync(join(work, 'grey.safetensors'));
    const length = Number(bytes.readBigUInt64LE(0));
    const header = JSON.parse(bytes.subarray(8, 8 + length).toString('utf8')) as Record<string, { shape?: number[] }> & { __metadata__: Record<string, string> };
    expect(header['layers.0.weight'].shape).toEqual([32, 1, 3, 3]);
    expect((JSON.parse(header.__metadata__.normalization) as { mean: number[] }).mean).toHaveLength(1);
    const theirs = lossAndAccuracy(pytorchRun(bytes, test).logits, test.labels!);
    expect(Math.abs(theirs.loss - evaluated.testLoss)).toBeLessThan(1e-4);
  });
});
