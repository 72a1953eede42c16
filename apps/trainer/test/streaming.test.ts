import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { relativeError } from '@convoy/tensor';
import { exitCodeOf, UsageError } from '../src/cli';
import { loadCheckpoint } from '../src/checkpoint';
import { runCli } from './runCli';


const work = mkdtempSync(join(tmpdir(), 'convoy-stream-cli-'));
const packed = join(work, 'packed');
/**
 * 200 training images of 16x16 in shards of 10 (154 KB) and 120 test images (92 KB): above a --data-memory of 128K, so the
 * training split is streamed, and the test split (above a quarter of it) read 10 images at a time.
 */
const STREAMED = ['--data', packed, '--data-memory', '128K', '--model', 'recipe', '--resolution', '16', '--width', '4', '--batch-size', '8', '--limit-test', '8'];

beforeAll(async () => {
  const source = join(work, 'photos');
  for (const [split, n] of [['train', 100], ['test', 60]] as const) {
    for (const [label, cls] of ['ant', 'bee'].entries()) {
      mkdirSync(join(source, split, cls), { recursive: true });
      for (let i = 0; i < n; i++) {
        const raw = Buffer.alloc(16 * 16 * 3);
        for (let b = 0; b < raw.length; b++) raw[b] = (label * 90 + i * 13 + b * (label + 3)) % 256;
        writeFileSync(join(source, split, cls, `${i}.png`), await sharp(raw, { raw: { width: 16, height: 16, channels: 3 } }).png().toBuffer());
      }
    }
  }
  expect((await runCli(['pack', source, '--resolution', '16', '-o', packed, '--shard-size', '8K'])).error).toBeNull();
}, 60_000);

describe('train --data <packed folder> bigger than --data-memory: streamed from its shards', () => {
  it('streams (saying how), and 1 thread and 2 threads give the same parameters (1e-5)', async () => {
    const one = await runCli(['train', ...STREAMED, '--threads', '1', '--epochs', '1', '--max-steps', '6', '--checkpoint-dir', join(work, 'one')]);
    expect(one.error).toBeNull();
    expect(one.out + one.err).toMatch(/streaming the training split \(0\.1 MiB in 20 shards, above its 0\.1 MiB of --data-memory\): 4 partitions of 2 images per batch \(all of them\), shuffle buffers of \d+ images/);
    const two = await runCli(['train', ...STREAMED, '--threads', '2', '--epochs', '1', '--max-steps', '6', '--checkpoint-dir', join(work, 'two')]);
    expect(two.error).toBeNull();
    const [a, b] = [loadCheckpoint(join(work, 'one')).state, loadCheckpoint(join(work, 'two')).state];
    expect(a.step).toBe(6);
    expect(relativeError(b.params, a.params)).toBeLessThan(1e-5);
  }, 120_000);

  it('--resume in the middle of an epoch continues exactly; every epoch says which shards were read', async () => {
    const common = ['train', ...STREAMED, '--threads', '2', '--epochs', '2'];
    const unbroken = join(work, 'unbroken');
    const whole = await runCli([...common, '--checkpoint-dir', unbroken]);
    expect(whole.error).toBeNull();
    expect(whole.out + whole.err).toMatch(/streamed 20 shard file\(s\), 0\.\d MiB verified and read by epoch 1: train-000\d\d\.shard/);
    const broken = join(work, 'broken');
    expect((await runCli([...common, '--max-steps', '7', '--checkpoint-dir', broken])).error).toBeNull();
    expect(loadCheckpoint(broken).state.step).toBe(7);
    expect((await runCli(['train', '--resume', broken, '--data', packed, '--threads', '2', '--limit-test', '8'])).error).toBeNull();
    const [a, b] = [loadCheckpoint(unbroken).state, loadCheckpoint(broken).state];
    expect(b.step).toBe(a.step);
    expect(b.params).toEqual(a.params);
    const log = readFileSync(join(unbroken, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string; streamed?: unknown });
    expect(log.filter((l) => l.type === 'epoch').map((l) => l.streamed)).toEqual([
      { shardFiles: 20, shardBytes: expect.any(Number) as number, lostImages: 0 },
      { shardFiles: 20, shardBytes: expect.any(Number) as number, lostImages: 0 },
    ]);
  }, 180_000);

  it('--limit-train streams the first n images of the shards (the same at 1 and 2 threads); --classes is a usage error saying what to do instead', async () => {
    const limited = ['train', ...STREAMED, '--limit-train', '50', '--epochs', '1', '--max-steps', '4'];
    const one = await runCli([...limited, '--threads', '1', '--checkpoint-dir', join(work, 'limited-1')]);
    expect(one.error).toBeNull();
    expect(one.out + one.err).toMatch(/streaming the training split \(0\.1 MiB in 20 shards, above its 0\.1 MiB of --data-memory\), its first 50 images in the index's shard order \(--limit-train\): /);
    expect(one.out + one.err).toMatch(/convoy: 50 training images, \d steps\/epoch of 8/);
    const two = await runCli([...limited, '--threads', '2', '--checkpoint-dir', join(work, 'limited-2')]);
    expect(two.error).toBeNull();
    const [a, b] = [loadCheckpoint(join(work, 'limited-1')).state, loadCheckpoint(join(work, 'limited-2')).state];
    expect(a.step).toBe(4);
    expect(a.config.limitTrain).toBe(50);
    expect(relativeError(b.params, a.params)).toBeLessThan(1e-5);
    const classes = await runCli(['train', ...STREAMED, '--classes', 'bee,ant', '--checkpoint-dir', join(work, 'never')]);
    expect(classes.error).toBeInstanceOf(UsageError);
    expect(exitCodeOf(classes.error)).toBe(2);
    expect((classes.error as Error).message).toMatch(/is streamed from its shards, and --classes needs it in memory\. Either raise --data-memory to 1M \(both splits held whole\), or pack only those classes/);
    expect((await runCli(['train', ...STREAMED, '--limit-train', '201', '--checkpoint-dir', join(work, 'never')])).error).toMatchObject({ message: expect.stringMatching(/--limit-train 201 is more than the 200 training images/) as string });
    const small = await runCli(['train', '--data', packed, '--data-memory', '64K', '--batch-size', '64', '--model', 'recipe', '--resolution', '16', '--checkpoint-dir', join(work, 'never')]);
    expect(small.error).toBeInstanceOf(UsageError);
    expect((small.error as Error).message).toMatch(/--data-memory 64K is too small to stream this training split \(151K in 20 shards\) beside the test split's \d+(\.\d)?K: even 1 partition\(s\) need \d+K .*Raise --data-memory to at least \d+K, or lower --batch-size/);
  }, 60_000);
});

describe('--data-memory where nothing is packed', () => {
  it('is a usage error for CIFAR-10 and an image folder, in train and eval, saying to drop it or pack the images', async () => {
    const photos = join(work, 'photos');
    for (const args of [
      ['train', '--data-memory', '512M', '--checkpoint-dir', join(work, 'never')],
      ['train', '--data', photos, '--data-memory', '512M', '--checkpoint-dir', join(work, 'never')],
      ['eval', join(work, 'no-such-run'), '--data', photos, '--data-memory', '512M'],
      ['eval', join(work, 'no-such-run'), '--data-memory', '512M'],
    ]) {
      const r = await runCli(args);
      expect(r.error).toBeInstanceOf(UsageError);
      expect(exitCodeOf(r.error)).toBe(2);
      expect((r.error as Error).message).toMatch(/^--data-memory bounds a packed --data folder \(written by `convoy pack`\); .* is held whole in memory, so it cannot apply\. Drop --data-memory, or pack the images \(`convoy pack .* --resolution R -o DIR`\)/);
      expect((r.error as Error).message).toContain(args.includes('--data') ? `${photos} is an image folder` : 'CIFAR-10 (184 MB)');
    }
    // Its default is no problem anywhere, and a packed folder takes it (the tests above).
    expect((await runCli(['eval', join(work, 'no-such-run'), '--data', photos])).error).not.toBeInstanceOf(UsageError);
  }, 60_000);
});

describe('a packed test split bigger than its share of --data-memory: evaluated a window at a time', () => {
  interface EvalLine { images: number; testAccuracy: number; testLoss: number }
  /** `convoy eval --json` of a run on the packed folder, and what it said on stderr (where eval reports its data). */
  async function evaluated(run: string, args: string[]): Promise<EvalLine & { said: string }> {
    let said = '';
    const spy = jest.spyOn(process.stderr, 'write').mockImplementation((t: string | Uint8Array) => ((said += String(t)), true));
    try {
      const r = await runCli(['eval', run, '--data', packed, '--json', ...args]);
      expect(r.error).toBeNull();
      return { ...(JSON.parse(r.out.trim().split('\n').pop()!) as EvalLine), said };
    } finally {
      spy.mockRestore();
    }
  }

  it('train evaluates it so, and gets the accuracy and loss of the split held whole; eval does too, at 1 and 2 threads and with --limit-test', async () => {
    const run = join(work, 'streamed-test');
    const trained = await runCli(['train', ...STREAMED.filter((a, i) => a !== '--limit-test' && STREAMED[i - 1] !== '--limit-test'), '--threads', '2', '--epochs', '1', '--checkpoint-dir', run]);
    expect(trained.error).toBeNull();
    expect(trained.out + trained.err).toMatch(/200 training images \(streamed from 20 shards\) and 120 test images \(read 10 at a time from the test shards\)/);
    const epoch = readFileSync(join(run, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string; testAccuracy: number; testLoss: number }).find((l) => l.type === 'epoch')!;
    const held = await evaluated(run, ['--data-memory', '1G', '--threads', '2']);
    expect(held.said).toMatch(/120 test images of 2 classes/);
    expect(held.images).toBe(120);
    expect(epoch.testAccuracy).toBe(held.testAccuracy);
    expect(Math.abs(epoch.testLoss - held.testLoss)).toBeLessThan(1e-5 * held.testLoss);
    for (const threads of ['1', '2']) {
      const streamed = await evaluated(run, ['--data-memory', '64K', '--threads', threads]);
      expect(streamed.said).toMatch(/120 test images \(read 5 at a time from the test shards\)/);
      expect(streamed.images).toBe(120);
      expect(streamed.testAccuracy).toBe(held.testAccuracy);
      expect(Math.abs(streamed.testLoss - held.testLoss)).toBeLessThan(1e-5 * held.testLoss);
    }
    const limitedHeld = await evaluated(run, ['--data-memory', '1G', '--limit-test', '30']);
    const limited = await evaluated(run, ['--data-memory', '64K', '--limit-test', '30']);
    expect(limited.said).toMatch(/30 test images \(read 5 at a time/);
    expect([limited.images, limited.testAccuracy]).toEqual([30, limitedHeld.testAccuracy]);
    expect(Math.abs(limited.testLoss - limitedHeld.testLoss)).toBeLessThan(1e-5 * limitedHeld.testLoss);
  }, 180_000);
});
