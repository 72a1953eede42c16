import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { localMpirunArgs } from '@convoy/cluster';
import { CIFAR10_NORMALIZATION } from '@convoy/data';
import { relativeError } from '@convoy/tensor';
import { loadCheckpoint } from '../src/checkpoint';
import { catDogWork, CONVOY_BIN as bin } from './catDog';

/**
 * `convoy train --data` on the real cat-dog JPEG folder (small subsets of it, linked into a temporary
 * folder so the runs stay short): $CATDOG_DIR, else cat-dog-jpeg beside $CIFAR10_DIR.
 */
const { dir: work, env, convoy, linkedSubset } = catDogWork('convoy-folder-e2e-');

describe('convoy train --data (built CLI, real JPEGs)', () => {
  it('trains on train/<class> + test/<class> at R=32, records classes, R and the normalisation; a second run reads the image cache', () => {
    const data = linkedSubset('small', { train: 128, test: 50 });
    const ckpt = join(work, 'run32');
    const common = ['train', '--data', data, '--threads', '2', '--batch-size', '64', '--epochs', '1', '--checkpoint-dir', ckpt];
    const a = convoy(common);
    expect(a.code).toBe(0);
    expect(a.out).toMatch(/256 training and 100 test images of 2 classes \(cat, dog\) at 32x32 from .*, decoded and cached in /);
    expect(a.out).toMatch(/epoch 1\/1: train loss [\d.]+ acc [\d.]+% \| test loss [\d.]+ acc [\d.]+% \(100 images\)/);
    const state = loadCheckpoint(ckpt).state;
    expect(state.classNames).toEqual(['cat', 'dog']);
    expect(state.resolution).toBe(32);
    // The folder's default network: the recipe with BatchNorm (recipe-bn) for 3-channel 32x32 input.
    expect(state.modelSpec).toMatchObject({ kind: 'layers', classes: 2, input: { channels: 3, resolution: 32 } });
    expect((state.modelSpec as { layers: Array<{ type: string }> }).layers.slice(0, 3).map((l) => l.type)).toEqual(['conv2d', 'batchnorm2d', 'relu']);
    expect(state.normalization.mean).toHaveLength(3);
    expect(state.normalization.mean).not.toEqual(CIFAR10_NORMALIZATION.mean);
    const b = convoy([...common, '--overwrite']);
    expect(b.code).toBe(0);
    expect(b.out).toMatch(/read from the image cache /);
    expect(loadCheckpoint(ckpt).state.params).toEqual(state.params);
  });

  it('under mpirun on 2 ranks (127.0.0.1) gives the parameters of 1 process x 2 threads; the cache both ranks wrote reads back', () => {
    const data = linkedSubset('ranks', { train: 48, test: 20 });
    const args = (name: string, threads: number) => ['train', '--data', data, '--threads', String(threads), '--batch-size', '64', '--epochs', '2', '--width', '8', '--checkpoint-dir', join(work, name)];
    const twoRanks = spawnSync('mpirun', localMpirunArgs(2, [process.execPath, bin, ...args('ranks-2x1', 1)]), {
      encoding: 'utf8', env, stdio: ['ignore', 'pipe', 'pipe'],
    });
    expect({ code: twoRanks.status, err: twoRanks.stderr }).toEqual({ code: 0, err: expect.stringMatching(/rank 1\/2 on host/) });
    expect(twoRanks.stdout).toMatch(/96 training and 40 test images of 2 classes \(cat, dog\) at 32x32/);
    // The folder's default network has BatchNorm: each rank takes a whole ghost group of 32.
    expect(twoRanks.stdout).toMatch(/2 ranks x 1 thread\(s\) \(this rank: 32 images per step\)/);
    const oneProcess = convoy(args('ranks-1x2', 2));
    expect(oneProcess.code).toBe(0);
    // The two ranks decoded the folder at once and both wrote the cache (atomically): what is there is whole.
    expect(oneProcess.out).toMatch(/read from the image cache /);
    const [split, whole] = [loadCheckpoint(join(work, 'ranks-2x1')).state, loadCheckpoint(join(work, 'ranks-1x2')).state];
    expect(split.step).toBe(2); // 96 images: one step of 64 per epoch
    expect(split.classNames).toEqual(['cat', 'dog']);
    expect(split.normalization).toEqual(whole.normalization);
    expect(relativeError(split.params, whole.params)).toBeLessThan(1e-5);
  });

  it('R=224 trains through the 7x7 stride-2 front end', () => {
    const data = linkedSubset('r224', { train: 16, test: 8 });
    const ckpt = join(work, 'run224');
    const r = convoy(['train', '--data', data, '--resolution', '224', '--width', '8', '--threads', '2', '--batch-size', '16', '--epochs', '1', '--checkpoint-dir', ckpt]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/at 224x224/);
    const state = loadCheckpoint(ckpt).state;
    expect(state.resolution).toBe(224);
    // The front end's 7x7 kernel: [width, 3, 7, 7].
    expect(state.parameters.some((p) => p.shape.join('x') === '8x3x7x7')).toBe(true);
    expect(state.step).toBe(2);
  });

  it('--val-split holds out a seeded share of each class of a flat folder', () => {
    const data = linkedSubset('flat', { train: 40, test: 0 }, true);
    const r = convoy(['train', '--data', data, '--val-split', '0.25', '--threads', '2', '--batch-size', '20', '--epochs', '1', '--checkpoint-dir', join(work, 'split')]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/60 training and 20 test images of 2 classes/);
  });

  it('a bad file stops the run with its name and the fix; --skip-bad-images trains without it and says so', () => {
    const data = linkedSubset('bad', { train: 32, test: 8 });
    writeFileSync(join(data, 'train', 'dog', 'broken.jpg'), '');
    const bad = convoy(['train', '--data', data, '--threads', '2', '--batch-size', '16', '--epochs', '1', '--checkpoint-dir', join(work, 'bad-run')]);
    expect(bad.code).toBe(1);
    expect(bad.err).toContain(join(data, 'train', 'dog', 'broken.jpg'));
    expect(bad.err).toMatch(/broken\.jpg: .*\bempty\b.*\(0 bytes\)/);
    expect(bad.err).toMatch(/pass --skip-bad-images/);
    expect(existsSync(join(work, 'bad-run'))).toBe(false);
    const skip = convoy(['train', '--data', data, '--skip-bad-images', '--threads', '2', '--batch-size', '16', '--epochs', '1', '--checkpoint-dir', join(work, 'skip-run')]);
    expect(skip.code).toBe(0);
    expect(skip.out).toMatch(/--skip-bad-images\b.*\b1 bad file\b.*train\/dog\/broken\.jpg\b.*\(0 bytes\)/);
    expect(skip.out).toMatch(/64 training and 16 test images/);
  });
});

describe('convoy pack, then train and eval --data <packed folder> (built CLI, real JPEGs)', () => {
  const mpi = (args: string[]) =>
    spawnSync('mpirun', localMpirunArgs(2, [process.execPath, bin, ...args]), {
      encoding: 'utf8', env, stdio: ['ignore', 'pipe', 'pipe'],
    });

  it('under mpirun on 2 ranks (127.0.0.1) a packed folder gives the parameters of 1 process x 2 threads; eval reads its test shards', () => {
    const packed = join(work, 'packed');
    const pack = convoy(['pack', linkedSubset('to-pack', { train: 48, test: 20 }), '--resolution', '32', '-o', packed, '--shard-size', '64K']);
    expect(pack.code).toBe(0);
    expect(pack.out).toMatch(/packed 96 training and 40 test images of 2 classes at 32x32 into 7 shards/);
    // --model recipe: this checks the packed data under MPI; a batch of 32 is one BatchNorm ghost group, too few for 2 ranks with the folder's default network.
    const args = (name: string, threads: number) => ['train', '--data', packed, '--model', 'recipe', '--threads', String(threads), '--batch-size', '32', '--epochs', '2', '--width', '8', '--checkpoint-dir', join(work, name)];
    const twoRanks = mpi(args('packed-2x1', 1));
    expect({ code: twoRanks.status, err: twoRanks.stderr }).toEqual({ code: 0, err: expect.stringMatching(/rank 1\/2 on host/) });
    expect(twoRanks.stdout).toMatch(/96 training and 40 test images of 2 classes \(cat, dog\) at 32x32 from the packed dataset /);
    const oneProcess = convoy(args('packed-1x2', 2));
    expect(oneProcess.code).toBe(0);
    const [split, whole] = [loadCheckpoint(join(work, 'packed-2x1')).state, loadCheckpoint(join(work, 'packed-1x2')).state];
    expect(split.step).toBe(6);
    expect(split.normalization).toEqual(whole.normalization);
    expect(relativeError(split.params, whole.params)).toBeLessThan(1e-5);
    const scored = convoy(['eval', join(work, 'packed-1x2'), '--data', packed, '--json']);
    expect(scored.code).toBe(0);
    expect(JSON.parse(scored.out)).toMatchObject({ images: 40 });
  });

  it('under mpirun on 2 ranks a packed folder bigger than --data-memory is streamed, each rank reading only its own shards, with the parameters of 1 process x 2 threads; its test split too, with the same test numbers', () => {
    const packed = join(work, 'packed-streamed');
    const pack = convoy(['pack', linkedSubset('to-stream', { train: 48, test: 12 }), '--resolution', '32', '-o', packed, '--shard-size', '12K']);
    expect(pack.code).toBe(0);
    const index = JSON.parse(readFileSync(join(packed, 'index.json'), 'utf8')) as { splits: { train: { shards: { file: string }[] } } };
    const trainShards = index.splits.train.shards.map((s) => s.file);
    expect(trainShards.length).toBe(32);
    // 24 test images (74 KB, above a quarter of 256K): read 5 at a time. 96 training images of 3 KB (295 KB) above the rest: 4 partitions of 4 images per batch, two per rank.
    const args = (name: string, threads: number) => [
      'train', '--data', packed, '--data-memory', '256K', '--model', 'recipe', '--threads', String(threads), '--batch-size', '16', '--epochs', '2', '--width', '8', '--limit-test', '16',
      '--checkpoint-dir', join(work, name),
    ];
    const twoRanks = mpi(args('streamed-2x1', 1));
    expect({ code: twoRanks.status, err: twoRanks.stderr }).toEqual({ code: 0, err: expect.stringMatching(/rank 1\/2 on host/) });
    expect(twoRanks.stdout).toMatch(/streaming the training split .*: 4 partitions of 4 images per batch \(partitions 1-2 here\)/);
    expect(twoRanks.stdout).toMatch(/and 16 test images \(read 5 at a time from the test shards\)/);
    // Each rank's last report (after epoch 2): the shard files it read.
    const read = [0, 1].map((rank) => {
      const lines = twoRanks.stderr.split('\n').filter((l) => new RegExp(`^rank ${rank}/2 on host .*: streamed \\d+ shard file\\(s\\), .* by epoch 2: `).test(l));
      expect(lines).toHaveLength(1);
      return lines[0].replace(/^.* by epoch 2: /, '').split(' ').sort();
    });
    expect(read[0].length).toBe(16);
    expect(read[1].length).toBe(16);
    expect(read[0].filter((f) => read[1].includes(f))).toEqual([]);
    expect([...read[0], ...read[1]].sort()).toEqual([...trainShards].sort());
    const oneProcess = convoy(args('streamed-1x2', 2));
    expect(oneProcess.code).toBe(0);
    expect(oneProcess.out).toMatch(/streamed 32 shard file\(s\), .* by epoch 2: /);
    const [split, whole] = [loadCheckpoint(join(work, 'streamed-2x1')).state, loadCheckpoint(join(work, 'streamed-1x2')).state];
    expect(split.step).toBe(12);
    expect(relativeError(split.params, whole.params)).toBeLessThan(1e-5);
    // Each rank evaluated its half of the streamed test split; the sums are the one process's.
    const tested = (name: string) => readFileSync(join(work, name, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string; testAccuracy: number; testLoss: number }).filter((l) => l.type === 'epoch');
    const [ranks, one] = [tested('streamed-2x1'), tested('streamed-1x2')];
    expect(ranks.map((e) => e.testAccuracy)).toEqual(one.map((e) => e.testAccuracy));
    ranks.forEach((e, i) => expect(Math.abs(e.testLoss - one[i].testLoss)).toBeLessThan(1e-5 * one[i].testLoss));
  });

  it('under mpirun, a changed byte in a shard ends the job naming the shard; --skip-bad-shards trains without it', () => {
    const packed = join(work, 'packed-damaged');
    expect(convoy(['pack', linkedSubset('to-damage', { train: 32, test: 8 }), '--resolution', '32', '-o', packed, '--shard-size', '32K']).code).toBe(0);
    const shard = join(packed, 'train-00001.shard');
    const bytes = readFileSync(shard);
    bytes[bytes.length - 100] ^= 0x10;
    writeFileSync(shard, bytes);
    // --model recipe: a batch of 16 is less than one BatchNorm ghost group, too few for 2 ranks with the folder's default network.
    const args = ['train', '--data', packed, '--model', 'recipe', '--threads', '1', '--batch-size', '16', '--epochs', '1', '--width', '8', '--checkpoint-dir', join(work, 'packed-damaged-run')];
    const stopped = mpi(args);
    expect(stopped.status).not.toBe(0);
    expect(stopped.stderr).toContain(shard);
    expect(stopped.stderr).toMatch(/\.shard: .*\bSHA-256\b.*\bshard 2 of 7 of the train split, 10 images\b/);
    const skipped = mpi([...args, '--skip-bad-shards']);
    expect({ code: skipped.status, err: skipped.stderr }).toEqual({ code: 0, err: expect.any(String) });
    expect(skipped.stdout).toMatch(/--skip-bad-shards left out 1 shard holding \d+ images: .*train-00001\.shard/);
  });
});
