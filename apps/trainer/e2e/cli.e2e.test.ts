import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import sharp from 'sharp';
import { fillBatch, loadCifar10, selectSubsets } from '@convoy/data';
import { selectBackend } from '@convoy/kernels';
import { buildModel, createParameters } from '@convoy/nn';
import { Tensor } from '@convoy/tensor';
import { loadCheckpoint } from '../src/checkpoint';

const dataDir = process.env.CIFAR10_DIR;
if (!dataDir) throw new Error('the e2e checks need real CIFAR-10: set CIFAR10_DIR to the folder holding data_batch_1.bin ... test_batch.bin');

const bin = join(__dirname, '..', 'bin', 'convoy.js');
const small = ['--data-dir', dataDir, '--threads', '2', '--limit-train', '640', '--limit-test', '200', '--batch-size', '64', '--no-download'];

function convoy(args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { ...process.env, NX_TASK_TARGET_PROJECT: '' } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('convoy on real CIFAR-10 (built CLI)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'convoy-e2e-'));

  it('trains in two parts (--max-steps, --resume) like one run, and evaluates the checkpoint', () => {
    const straight = join(dir, 'straight');
    const parts = join(dir, 'parts');
    const a = convoy(['train', ...small, '--epochs', '2', '--checkpoint-dir', straight]);
    expect(a.err).toBe('');
    expect(a.code).toBe(0);
    expect(a.out).toMatch(/epoch 2\/2: train loss [\d.]+ acc [\d.]+% \| test loss [\d.]+ acc [\d.]+% \(200 images\)/);
    // 640 images for 2 epochs have not learned yet: the summary may say so (the collapse check below).
    expect(a.out).toMatch(/completed( AT CHANCE \(collapsed\))?: step 20, epoch 2\/2/);

    const b1 = convoy(['train', ...small, '--epochs', '2', '--checkpoint-dir', parts, '--max-steps', '13']);
    expect(b1.code).toBe(0);
    expect(b1.out).toMatch(/stopped at --max-steps 13/);
    const b2 = convoy(['train', ...small, '--resume', parts]);
    expect(b2.code).toBe(0);
    expect(b2.out).toMatch(/resuming at step 13 \(epoch 2, batch 3\)/);
    const one = loadCheckpoint(straight).state;
    const two = loadCheckpoint(parts).state;
    expect(two.step).toBe(20);
    expect(two.params).toEqual(one.params);
    expect(two.optimizer.state.momentumBuffer).toEqual(one.optimizer.state.momentumBuffer);

    const evalA = convoy(['eval', straight, '--data-dir', dataDir, '--threads', '2', '--limit-test', '500', '--json']);
    const evalB = convoy(['eval', parts, '--data-dir', dataDir, '--threads', '2', '--limit-test', '500', '--json']);
    expect(evalA.code).toBe(0);
    const ra = JSON.parse(evalA.out);
    const rb = JSON.parse(evalB.out);
    expect(ra.images).toBe(500);
    expect(rb.testAccuracy).toBe(ra.testAccuracy);
    expect(rb.testLoss).toBe(ra.testLoss);

    // Test-time augmentation: both numbers, the plain ones unchanged, the same at 1 and 2 threads.
    const flipped = convoy(['eval', straight, '--data-dir', dataDir, '--threads', '2', '--limit-test', '500', '--tta', 'flip']);
    expect(flipped.code).toBe(0);
    expect(flipped.out).toMatch(new RegExp(`test accuracy ${(100 * ra.testAccuracy).toFixed(2)}% \\(\\d+/500\\), loss [\\d.]+; with test-time augmentation \\(flip\\) [\\d.]+% \\(\\d+/500\\), loss [\\d.]+`));
    const ttaJson = [1, 2].map((threads) => JSON.parse(convoy(['eval', straight, '--data-dir', dataDir, '--threads', String(threads), '--limit-test', '500', '--tta', 'flip', '--json']).out));
    expect(ttaJson[0]).toMatchObject({ testAccuracy: ra.testAccuracy, tta: 'flip' });
    expect(ttaJson[1].ttaTestAccuracy).toBe(ttaJson[0].ttaTestAccuracy);
    expect(ttaJson[1].ttaTestLoss).toBeCloseTo(ttaJson[0].ttaTestLoss, 5);
    expect(ttaJson[0].ttaTestLoss).not.toBe(ra.testLoss);

    const log = readFileSync(join(parts, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(log.filter((r) => r.type === 'step').map((r) => r.step)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
  });

  it('says when a run collapses (--lr 1: loss back at ln 10, test accuracy at chance) in the log, the metrics and the summary, and not when it learns', () => {
    const collapsedDir = join(dir, 'collapsed');
    const collapsed = convoy(['train', ...small, '--epochs', '2', '--lr', '1', '--checkpoint-dir', collapsedDir]);
    expect(collapsed.err).toBe('');
    expect(collapsed.code).toBe(0); // a collapse is a result, not a failure: README, "Exit codes"
    expect(collapsed.out).toMatch(
      /WARNING: epoch 2\b.*\bchance\b.*\b2\.\d{4}\b.*\(2\.3026\).*\d+\.\d\d% on 200 images\b.*\b10\.00%.*\b16\.36%.*--lr\b.*\b0\.5\b.*\b1\b.*--warmup 0\.5\b.*\b0\.3\b.*--seed\b.*\b1\b/,
    );
    expect(collapsed.out).toMatch(/^completed AT CHANCE \(collapsed\): step 20, epoch 2\/2 \| test accuracy/m);
    expect(collapsed.out).toMatch(/^WARNING: .*\bcollapsed\b.*\b2\.\d{4}\b/m);
    expect(collapsed.out).not.toMatch(/^completed:/m);
    const records = readFileSync(join(collapsedDir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const lastEpoch = records.filter((r) => r.type === 'epoch').at(-1);
    const end = records.at(-1);
    expect(lastEpoch.collapse).toMatchObject({ epoch: 2, lossAtChance: true, accuracyAtChance: true, testCount: 200, chanceAccuracy: 0.1 });
    expect(lastEpoch.collapse.chanceLoss).toBeCloseTo(Math.log(10), 6);
    expect(end).toMatchObject({ type: 'end', status: 'completed', collapse: lastEpoch.collapse });

    // The control: two easy classes, the default --lr, learn well above chance in 2 epochs; no warning.
    const learnedDir = join(dir, 'learned');
    const learned = convoy([
      'train', '--data-dir', dataDir, '--threads', '2', '--classes', 'airplane,frog', '--limit-train', '1024', '--limit-test', '400', '--batch-size', '64',
      '--width', '16', '--epochs', '2', '--no-download', '--checkpoint-dir', learnedDir,
    ]);
    expect(learned.code).toBe(0);
    expect(learned.out).toMatch(/^completed: step 32, epoch 2\/2/m);
    expect(learned.out).not.toMatch(/WARNING|AT CHANCE/);
    const learnedEnd = readFileSync(join(learnedDir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).at(-1);
    expect(learnedEnd).toMatchObject({ type: 'end', status: 'completed', collapse: null });
  });

  it('predicts CIFAR-10 test images written as PNG exactly as eval scores them (same accuracy; same outputs as the binary images)', async () => {
    const straight = join(dir, 'straight'); // trained by the first test
    const pngs = join(dir, 'pngs');
    const data = selectSubsets(await loadCifar10({ dataDir, download: false }), { limitTest: 200 });
    const t = data.test;
    for (let i = 0; i < t.count; i++) {
      const rgb = Buffer.alloc(3072);
      for (let p = 0; p < 1024; p++) for (let c = 0; c < 3; c++) rgb[p * 3 + c] = t.images[i * 3072 + c * 1024 + p];
      mkdirSync(join(pngs, data.classNames[t.labels[i]]), { recursive: true });
      await sharp(rgb, { raw: { width: 32, height: 32, channels: 3 } }).png().toFile(join(pngs, data.classNames[t.labels[i]], `${String(i).padStart(4, '0')}.png`));
    }
    const predicted = convoy(['predict', straight, pngs, '--threads', '2', '--batch-size', '64', '--json', '--top-k', '10']);
    expect(predicted.code).toBe(0);
    const lines = predicted.out.trim().split('\n').map((l) => JSON.parse(l) as { file: string; top: Array<{ className: string; probability: number }> });
    expect(lines).toHaveLength(200);
    const evaluated = JSON.parse(convoy(['eval', straight, '--data-dir', dataDir, '--threads', '2', '--limit-test', '200', '--json']).out);
    const correct = lines.filter((l) => l.top[0].className === basename(dirname(l.file))).length;
    expect(correct / 200).toBe(evaluated.testAccuracy);
    expect(predicted.err).toMatch(new RegExp(`accuracy ${(100 * evaluated.testAccuracy).toFixed(2)}% \\(${correct}/200\\)`));

    // Image for image: the PNG path gives the outputs of the network on the binary copy's pixels.
    const state = loadCheckpoint(straight).state;
    const model = buildModel(state.modelSpec, { backend: selectBackend('wasm').backend });
    createParameters(model).params.data.set(state.params);
    const x = new Float32Array(200 * 3072);
    fillBatch(t, Uint32Array.from({ length: 200 }, (_, i) => i), 0, 200, x, new Int32Array(200), { augment: false, seed: 0, epoch: 0, normalization: state.normalization });
    const logits = model.forward(new Tensor(x, [200, 3, 32, 32])).data;
    for (const line of lines) {
      const i = Number(basename(line.file, '.png'));
      const expected = Array.from(logits.subarray(i * 10, i * 10 + 10));
      const best = expected.indexOf(Math.max(...expected));
      expect(line.top[0].className).toBe(state.classNames[best]);
    }
  });

  it('trains cat vs dog with --classes (two outputs, 2,000 test images) and evaluates it on the same classes', () => {
    const ckpt = join(dir, 'cat-dog');
    const r = convoy(['train', '--data-dir', dataDir, '--threads', '2', '--classes', 'cat,dog', '--limit-train', '256', '--batch-size', '64',
      '--epochs', '1', '--no-download', '--checkpoint-dir', ckpt]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/256 training images/);
    expect(r.out).toMatch(/test loss [\d.]+ acc [\d.]+% \(2000 images\)/);
    const state = loadCheckpoint(ckpt).state;
    expect(state.config.classes).toBe('cat,dog');
    expect(state.modelSpec).toMatchObject({ classes: 2 });
    const evaluated = convoy(['eval', ckpt, '--data-dir', dataDir, '--threads', '2', '--json']);
    expect(evaluated.code).toBe(0);
    expect(JSON.parse(evaluated.out).images).toBe(2000);

    const bad = convoy(['train', '--data-dir', dataDir, '--classes', 'cat,unicorn', '--no-download', '--checkpoint-dir', join(dir, 'bad')]);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/--classes\b.*"unicorn".*\bairplane, automobile, bird, cat\b/);
  });

  it('saves a checkpoint and exits 130 on Ctrl-C', async () => {
    const ckpt = join(dir, 'sigint');
    const child = spawn(process.execPath, [bin, 'train', ...small, '--epochs', '3', '--checkpoint-dir', ckpt], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    const code = await new Promise<number | null>((resolve) => {
      child.stdout.on('data', (d) => {
        out += d;
        if (/batch \d+\/10/.test(out) && !child.killed) child.kill('SIGINT');
      });
      child.on('exit', (c) => resolve(c));
    });
    expect(err).toMatch(/Ctrl-C: finishing this step and saving a checkpoint/);
    expect(code).toBe(130);
    expect(out).toMatch(/interrupted: checkpoint .*latest\.msgpack \(step \d+\)/);
    expect(existsSync(join(ckpt, 'latest.msgpack'))).toBe(true);
  });
});
