import { existsSync, mkdirSync, mkdtempSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { CommanderError } from 'commander';
import { DatasetError, type PackedIndex } from '@convoy/data';
import { exitCodeOf, UsageError } from '../src/cli';
import { loadCheckpoint } from '../src/checkpoint';
import { runCli } from './runCli';


const work = mkdtempSync(join(tmpdir(), 'convoy-pack-cli-'));
const source = join(work, 'photos');
const packed = join(work, 'packed');

beforeAll(async () => {
  for (const [split, n] of [['train', 12], ['test', 4]] as const) {
    for (const [label, cls] of ['ant', 'bee'].entries()) {
      mkdirSync(join(source, split, cls), { recursive: true });
      for (let i = 0; i < n; i++) {
        const raw = Buffer.alloc(20 * 20 * 3, (label * 120 + i * 9) % 256);
        writeFileSync(join(source, split, cls, `${i}.png`), await sharp(raw, { raw: { width: 20, height: 20, channels: 3 } }).png().toBuffer());
      }
    }
  }
});

describe('convoy pack and train --data <packed folder>', () => {
  it('packs a folder into shards of --shard-size with an index, and says when it is already packed', async () => {
    const first = await runCli(['pack', source, '--resolution', '16', '-o', packed, '--shard-size', '4K', '--threads', '2']);
    expect(first.error).toBeNull();
    expect(first.out).toMatch(/packed 24 training and 8 test images of 2 classes at 16x16 into 7 shards .* images\/s\ntrain on it with: convoy train --data /);
    const index = JSON.parse(readFileSync(join(packed, 'index.json'), 'utf8')) as PackedIndex;
    expect(index.splits.train.shards.map((s) => s.count)).toEqual([5, 5, 5, 5, 4]);
    expect((await runCli(['pack', source, '--resolution', '16', '-o', packed, '--shard-size', '4K'])).out).toMatch(/already holds this packing \(32 images in 7 shards\); nothing to do/);
  });

  it.each([
    [['pack', 'photos', '-o', 'out'], /required option '--resolution <R>' not specified/],
    [['pack', 'photos', '--resolution', '32'], /required option '-o, --output <dir>' not specified/],
    [['pack', 'photos', '--resolution', '32', '-o', 'x', '--shard-size', '10X'], /--shard-size expects a size such as 256M/],
  ])('pack %j is a usage error', async (args, message) => {
    const { err, error } = await runCli(args);
    expect(error).toBeInstanceOf(CommanderError);
    expect(exitCodeOf(error)).toBe(2);
    expect(err).toMatch(message);
  });

  it.each([
    [() => ['--data', packed, '--resolution', '32'], /\b16x16\b.*--resolution 32\b.*\bdrop --resolution\b/],
    [() => ['--data', packed, '--val-split', '0.2'], /\bpacked\b.*\btest split\b/],
    [() => ['--data', source, '--skip-bad-shards'], /--skip-bad-shards\b.*\bpacked\b/],
    [() => ['--skip-bad-shards'], /--skip-bad-shards\b.*--data\b/],
  ])('train %#: flags a packed folder cannot take are usage errors, before any work', async (args, message) => {
    const dir = join(mkdtempSync(join(tmpdir(), 'convoy-cli-')), 'run');
    const { error } = await runCli(['train', ...args(), '--checkpoint-dir', dir, '--no-download']);
    expect(error).toBeInstanceOf(UsageError);
    expect(exitCodeOf(error)).toBe(2);
    expect((error as Error).message).toMatch(message);
    expect(existsSync(dir)).toBe(false);
  });

  it('a cut shard stops training before it starts, naming the file; --skip-bad-shards trains without it and says what was lost', async () => {
    const damaged = join(work, 'damaged');
    expect((await runCli(['pack', source, '--resolution', '16', '-o', damaged, '--shard-size', '4K'])).error).toBeNull();
    truncateSync(join(damaged, 'train-00002.shard'), 30);
    const dir = join(work, 'run-damaged');
    const common = ['train', '--data', damaged, '--threads', '1', '--batch-size', '4', '--epochs', '1', '--max-steps', '1', '--checkpoint-dir', dir];
    const stopped = await runCli(common);
    expect(stopped.error).toBeInstanceOf(DatasetError);
    expect((stopped.error as Error).message).toMatch(new RegExp(`${join(damaged, 'train-00002\\.shard')}: 30 bytes\\b`));
    expect((stopped.error as Error).message).toMatch(/\bshard 3 of 5 of the train split, 5 images\b/);
    expect(existsSync(dir)).toBe(false);
    const skipped = await runCli([...common, '--skip-bad-shards']);
    expect(skipped.error).toBeNull();
    expect(skipped.out).toMatch(/19 training and 8 test images of 2 classes \(ant, bee\) at 16x16 from the packed dataset/);
    expect(skipped.out).toMatch(/--skip-bad-shards left out 1 shard holding 5 images: .*train-00002\.shard/);
    expect(existsSync(join(dir, 'latest.msgpack'))).toBe(true);
  }, 60_000);

  it('an interrupted packing given to --data says to finish it', async () => {
    const unfinished = join(work, 'unfinished');
    mkdirSync(unfinished);
    writeFileSync(join(unfinished, 'pack-state.json'), '{"key":"x","shards":{}}');
    const { error } = await runCli(['train', '--data', unfinished, '--checkpoint-dir', join(work, 'never')]);
    expect(error).toBeInstanceOf(DatasetError);
    expect((error as Error).message).toMatch(/\binterrupted\b.*\bindex\.json\b.*`convoy pack/);
    expect(existsSync(join(work, 'never'))).toBe(false);
  });

  it('--resume in the middle of an epoch on a packed folder continues exactly (the parameters of an unbroken run)', async () => {
    const common = ['train', '--data', packed, '--threads', '2', '--batch-size', '4', '--epochs', '2', '--width', '4', '--no-download'];
    const unbroken = join(work, 'unbroken');
    expect((await runCli([...common, '--checkpoint-dir', unbroken])).error).toBeNull();
    const broken = join(work, 'broken');
    expect((await runCli([...common, '--max-steps', '3', '--checkpoint-dir', broken])).error).toBeNull();
    expect(loadCheckpoint(broken).state.step).toBe(3);
    expect((await runCli(['train', '--resume', broken, '--data', packed, '--threads', '2'])).error).toBeNull();
    const [a, b] = [loadCheckpoint(unbroken).state, loadCheckpoint(broken).state];
    expect(b.step).toBe(12);
    expect(b.params).toEqual(a.params);
  }, 120_000);

  it('without --checkpoint-dir, a run on a folder goes to runs/<folder name>, not to CIFAR-10\'s runs/cifar10', async () => {
    const cwd = process.cwd();
    const user = mkdtempSync(join(tmpdir(), 'convoy-user-'));
    // As a user's shell runs it, not under an Nx target (which resolves paths against the workspace root).
    const nxProject = process.env.NX_TASK_TARGET_PROJECT;
    delete process.env.NX_TASK_TARGET_PROJECT;
    process.chdir(user);
    try {
      const { error } = await runCli(['train', '--data', packed, '--threads', '1', '--batch-size', '4', '--width', '4', '--max-steps', '1']);
      expect(error).toBeNull();
    } finally {
      process.chdir(cwd);
      if (nxProject !== undefined) process.env.NX_TASK_TARGET_PROJECT = nxProject;
    }
    expect(loadCheckpoint(join(user, 'runs', 'packed')).state.step).toBe(1);
    expect(existsSync(join(user, 'runs', 'cifar10'))).toBe(false);
  }, 60_000);
});
