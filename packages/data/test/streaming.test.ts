import * as fs from 'fs';
import * as path from 'path';
import { Rng } from '@convoy/tensor';
import {
  DatasetError, partitionsOfRank, planBytes, planStream, readPackedDataset, shareDataMemory, ShuffleBuffer, StreamPlanError, subset, TestStream, TrainStream, type ImageSet, type PackedIndex, type StreamPlan,
} from '../src';
import { encodeShard, sha256Hex, shardFileBytes, shardFileName } from '../src/packedFormat';
import { makeTempDir } from './helpers';

const R = 8;
const BYTES = 3 * R * R;
const CLASSES = 4;

/** The pixels of training image `key`: its key in the first four bytes, so a drawn image says which it is. */
function pixelsOf(key: number): Uint8Array {
  const p = new Uint8Array(BYTES);
  new DataView(p.buffer).setUint32(0, key, true);
  for (let i = 4; i < BYTES; i++) p[i] = (key * 31 + i) & 255;
  return p;
}
const labelOf = (key: number) => (key * 7) % CLASSES;

/** The shards of one split: `count` images from key `base` on, `perShard` a shard (the last shorter), written directly in the format. */
function writeSplit(dir: string, split: 'train' | 'test', count: number, perShard: number, base = 0): PackedIndex['splits']['train'] {
  const shards = [];
  for (let first = 0, n = 0; first < count; first += perShard, n++) {
    const c = Math.min(perShard, count - first);
    const labels = Uint8Array.from({ length: c }, (_, i) => labelOf(base + first + i));
    const pixels = new Uint8Array(c * BYTES);
    for (let i = 0; i < c; i++) pixels.set(pixelsOf(base + first + i), i * BYTES);
    const bytes = encodeShard(labels, pixels);
    const file = shardFileName(split, n);
    fs.writeFileSync(path.join(dir, file), bytes);
    shards.push({ file, count: c, bytes: shardFileBytes(c, BYTES), sha256: sha256Hex(bytes) });
  }
  return { count, shards };
}

/** A packed folder of `count` training images in shards of `perShard`, and `test` test images (keys from 10,000 on) in shards of `testPerShard`. */
function writePacked(count: number, perShard: number, test = 0, testPerShard = 7): { dir: string; index: PackedIndex } {
  const dir = makeTempDir('convoy-stream-');
  const index: PackedIndex = {
    format: 'convoy-packed', version: 1, resolution: R, channels: 3, classNames: ['a', 'b', 'c', 'd'],
    normalization: { mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] }, source: 'synthetic', key: 'k',
    splits: { train: writeSplit(dir, 'train', count, perShard), test: writeSplit(dir, 'test', test, testPerShard, TEST_BASE) },
  };
  fs.writeFileSync(path.join(dir, 'index.json'), JSON.stringify(index));
  return { dir, index };
}
const TEST_BASE = 10_000;

/** Every global batch of an epoch (keys), read by processes each streaming its range of partitions, joined in partition order. */
async function epochKeys(dir: string, index: PackedIndex, plan: StreamPlan, epoch: number, ranks = 1, seed = 5, from = 0): Promise<number[][]> {
  const streams = Array.from({ length: ranks }, (_, r) => new TrainStream({ root: dir, index, plan, partitions: partitionsOfRank(plan, ranks, r), seed, skipBadShards: false }));
  try {
    await Promise.all(streams.map((s) => s.startEpoch(epoch, from)));
    const batches: number[][] = [];
    for (let step = from; step < plan.stepsPerEpoch; step++) {
      const keys: number[] = [];
      for (const s of streams) {
        await s.nextBatch();
        s.keys.forEach((key, i) => {
          // The image drawn is the one its key names, with its label.
          expect(Array.from(s.batch.images.subarray(i * BYTES, (i + 1) * BYTES))).toEqual(Array.from(pixelsOf(key)));
          expect(s.batch.labels[i]).toBe(labelOf(key));
          keys.push(key);
        });
      }
      batches.push(keys);
    }
    return batches;
  } finally {
    await Promise.all(streams.map((s) => s.close()));
  }
}

describe('ShuffleBuffer', () => {
  test('fill, draw-and-replace, drain: every id drawn once, in a seeded order', () => {
    const order = (seed: number) => {
      const buffer = new ShuffleBuffer(7, new Rng(seed));
      const slots = new Array<number>(7);
      const out: number[] = [];
      for (let id = 0; id < 50; id++) {
        if (!buffer.full) {
          slots[buffer.add()] = id;
          continue;
        }
        const j = buffer.draw();
        out.push(slots[j]);
        slots[j] = id;
      }
      while (buffer.size > 0) {
        const j = buffer.draw();
        out.push(slots[j]);
        slots[j] = slots[buffer.remove(j)];
      }
      return out;
    };
    expect([...order(1)].sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(order(1)).toEqual(order(1));
    expect(order(1)).not.toEqual(order(2));
    expect(() => new ShuffleBuffer(0, new Rng(1))).toThrow(/capacity must be a positive integer/);
    expect(() => new ShuffleBuffer(2, new Rng(1)).draw()).toThrow(/empty/);
  });
});

describe('planStream: partitions and the memory budget', () => {
  const { index } = writePacked(200, 10);

  test('the most partitions that divide the batch into whole groups; the budget left goes to the shuffle buffers and is never exceeded', () => {
    const plan = planStream(index, { batchSize: 16, groupSize: 1, memoryBytes: 200_000 });
    expect(plan.partitions.length).toBe(16);
    expect(plan.perPartition).toBe(1);
    expect(plan.partitions.flat().map((s) => s.file).sort()).toEqual(index.splits.train.shards.map((s) => s.file).sort());
    expect(plan.stepsPerEpoch).toBe(10); // the smallest partition holds one shard of 10
    expect(planBytes(plan, 16)).toBeLessThanOrEqual(200_000);
    expect(planBytes({ ...plan, shuffleImages: plan.shuffleImages + 1 }, 16)).toBeGreaterThan(200_000);
    // BatchNorm groups of 4: 4 partitions of one group each.
    const grouped = planStream(index, { batchSize: 16, groupSize: 4, memoryBytes: 200_000 });
    expect([grouped.partitions.length, grouped.perPartition]).toEqual([4, 4]);
    expect(grouped.stepsPerEpoch).toBe(12); // 50 images per partition, 4 a step
  });

  test('a budget that cannot hold the batch and one batch share per partition is an error saying what to raise', () => {
    expect(() => planStream(index, { batchSize: 16, groupSize: 1, memoryBytes: 5_000 })).toThrow(StreamPlanError);
    expect(() => planStream(index, { batchSize: 16, groupSize: 1, memoryBytes: 5_000 })).toThrow(/--data-memory .* too small .* Raise --data-memory to at least/);
    expect(() => planStream(index, { batchSize: 18, groupSize: 4, memoryBytes: 1e6 })).toThrow(/--batch-size that is a multiple of 4/);
  });

  test('ranks take equal, contiguous ranges of partitions; a rank count that does not divide them is an error naming the counts that do', () => {
    const plan = planStream(index, { batchSize: 12, groupSize: 1, memoryBytes: 1e6 });
    expect(plan.partitions.length).toBe(12);
    expect(partitionsOfRank(plan, 3, 1)).toEqual({ start: 4, end: 8 });
    expect(() => partitionsOfRank(plan, 5, 0)).toThrow(/12 partition\(s\).*5 ranks cannot share them equally: run 1, 2, 3, 4, 6, 12 rank\(s\)/);
  });
});

describe('TrainStream: the streamed order', () => {
  const { dir, index } = writePacked(230, 17);
  // Chunks of 5 images, so shards are read in several chunks; a shuffle buffer of 9 images.
  const plan: StreamPlan = { ...planStream(index, { batchSize: 8, groupSize: 1, memoryBytes: 1e6 }), chunkImages: 5, shuffleImages: 9 };

  test('an epoch draws distinct images, each with its own pixels and label; deterministic from the seed and epoch, and shuffled', async () => {
    expect(plan.partitions.length).toBe(8);
    const epoch0 = await epochKeys(dir, index, plan, 0);
    const all = epoch0.flat();
    expect(new Set(all).size).toBe(all.length);
    expect(all.length).toBe(plan.stepsPerEpoch * 8);
    expect(await epochKeys(dir, index, plan, 0)).toEqual(epoch0);
    expect(await epochKeys(dir, index, plan, 1)).not.toEqual(epoch0);
    expect(await epochKeys(dir, index, plan, 0, 1, 6)).not.toEqual(epoch0);
    // Consecutive draws of a partition are not its shard's consecutive images.
    const partition0 = epoch0.map((b) => b[0]);
    expect(partition0.filter((k, i) => i > 0 && k === partition0[i - 1] + 1).length).toBeLessThan(partition0.length / 2);
  });

  test('2 and 4 processes, each streaming its own partitions, give the global batches of one', async () => {
    const one = await epochKeys(dir, index, plan, 1);
    expect(await epochKeys(dir, index, plan, 1, 2)).toEqual(one);
    expect(await epochKeys(dir, index, plan, 1, 4)).toEqual(one);
  });

  test('starting at step k of an epoch continues with exactly the batches of an unbroken epoch', async () => {
    const whole = await epochKeys(dir, index, plan, 2);
    expect(await epochKeys(dir, index, plan, 2, 1, 5, 3)).toEqual(whole.slice(3));
    expect(await epochKeys(dir, index, plan, 2, 2, 5, plan.stepsPerEpoch - 1)).toEqual(whole.slice(-1));
  });

  test('a process reads only its own partitions\' shards', async () => {
    const stream = new TrainStream({ root: dir, index, plan, partitions: partitionsOfRank(plan, 2, 1), seed: 5, skipBadShards: false });
    try {
      await stream.startEpoch(0);
      for (let s = 0; s < plan.stepsPerEpoch; s++) await stream.nextBatch();
    } finally {
      await stream.close();
    }
    const own = plan.partitions.slice(4).flat().map((s) => path.join(dir, s.file)).sort();
    expect([...stream.report.files].sort()).toEqual(own);
    expect(stream.report.shardBytes).toBe(plan.partitions.slice(4).flat().reduce((t, s) => t + s.bytes, 0));
  });
});

describe('TrainStream: reading ahead into the next epoch', () => {
  test('the next epoch\'s first shards (enough to fill the shuffle buffers) are checked before its last step, and not again when it starts; the last epoch checks none', async () => {
    const { dir, index } = writePacked(120, 10);
    // 4 partitions of 3 shards (30 images); shuffle buffers of 15 images: the next epoch starts with 2 shards each.
    const plan: StreamPlan = { ...planStream(index, { batchSize: 4, groupSize: 1, memoryBytes: 1e6 }), shuffleImages: 15 };
    expect([plan.partitions.length, plan.stepsPerEpoch]).toEqual([4, 30]);
    // A shard file is opened once to check it and once to read its images.
    const opens = jest.spyOn(fs.promises, 'open');
    const stream = new TrainStream({ root: dir, index, plan, partitions: { start: 0, end: 4 }, seed: 3, skipBadShards: false, epochs: 2 });
    const drawn: number[][] = [];
    let opened = 0;
    try {
      for (const epoch of [0, 1]) {
        await stream.startEpoch(epoch);
        for (let s = 0; s < plan.stepsPerEpoch; s++) {
          // Before the last step every shard was checked and opened (24), and the next epoch's first checks began (one after another).
          if (epoch === 0 && s === plan.stepsPerEpoch - 1) expect(opens.mock.calls.length).toBeGreaterThanOrEqual(2 * 12 + 4);
          await stream.nextBatch();
          drawn.push([...stream.keys]);
        }
      }
    } finally {
      await stream.close();
      opened = opens.mock.calls.length;
      opens.mockRestore();
    }
    // Every shard checked and read once per epoch, no more.
    expect(opened).toBe(2 * 24);
    // The batches are those of a stream that reads nothing ahead (one epoch at a time, from a new stream each).
    const fresh = [...(await epochKeys(dir, index, plan, 0, 1, 3)), ...(await epochKeys(dir, index, plan, 1, 1, 3))];
    expect(drawn).toEqual(fresh);
  });
});

describe('TrainStream: resuming in the middle of an epoch', () => {
  test('reads only the shards whose images are still in the shuffle buffers, and the one each partition had reached; the batches after are an unbroken epoch\'s', async () => {
    // 8 partitions of 5 shards (6 images each), shuffle buffers of 4: at step 27 of 30 the early shards are long drawn.
    const { dir, index } = writePacked(240, 6);
    const plan: StreamPlan = { ...planStream(index, { batchSize: 8, groupSize: 1, memoryBytes: 1e6 }), shuffleImages: 4 };
    expect([plan.partitions.length, plan.stepsPerEpoch]).toEqual([8, 30]);
    const whole = await epochKeys(dir, index, plan, 1, 1, 4);
    const stream = new TrainStream({ root: dir, index, plan, partitions: { start: 0, end: 8 }, seed: 4, skipBadShards: false });
    const after: number[][] = [];
    try {
      await stream.startEpoch(1, 27);
      // 11 of the 40 with this seed.
      expect(stream.report.files.length).toBeLessThanOrEqual(16);
      for (let step = 27; step < 30; step++) {
        await stream.nextBatch();
        after.push([...stream.keys]);
      }
    } finally {
      await stream.close();
    }
    expect(after).toEqual(whole.slice(27));
    // Under --skip-bad-shards (which images passed through is known only by reading them) the draws are replayed: every shard is read.
    const replayed = new TrainStream({ root: dir, index, plan, partitions: { start: 0, end: 8 }, seed: 4, skipBadShards: true });
    try {
      await replayed.startEpoch(1, 27);
      await replayed.nextBatch();
      expect([...replayed.keys]).toEqual(whole[27]);
    } finally {
      await replayed.close();
    }
    expect(replayed.report.files.length).toBe(40);
  });
});

describe('TrainStream: --limit-train on a streamed split', () => {
  test('streams the first n images in the index\'s shard order (the last shard in part), the same at 1, 2 and 4 processes; more than the split is an error', async () => {
    const { dir, index } = writePacked(230, 17);
    // 100 images: shards 1-5 and 15 of shard 6's 17.
    const plan: StreamPlan = { ...planStream(index, { batchSize: 8, groupSize: 1, memoryBytes: 1e6, limit: 100 }), chunkImages: 5, shuffleImages: 9 };
    expect(plan.images).toBe(100);
    expect(plan.partitions.flat().map((s) => [s.file, s.used]).sort()).toEqual([0, 1, 2, 3, 4, 5].map((n) => [index.splits.train.shards[n].file, n === 5 ? 15 : 17]));
    for (const epoch of [0, 1]) {
      const one = await epochKeys(dir, index, plan, epoch);
      const all = one.flat();
      expect(new Set(all).size).toBe(all.length);
      expect(Math.max(...all)).toBeLessThan(100);
      expect(all.length).toBe(plan.stepsPerEpoch * 8);
      expect(await epochKeys(dir, index, plan, epoch, 2)).toEqual(one);
      expect(await epochKeys(dir, index, plan, epoch, plan.partitions.length)).toEqual(one);
    }
    expect(() => planStream(index, { batchSize: 8, groupSize: 1, memoryBytes: 1e6, limit: 231 })).toThrow(/--limit-train 231 is more than the 230 training images; use at most 230/);
  });
});

describe('TrainStream: damaged shards', () => {
  test('a changed byte is named (file and place) when its shard is reached; --skip-bad-shards goes on, counting the images lost once', async () => {
    const { dir, index } = writePacked(120, 10);
    const plan: StreamPlan = { ...planStream(index, { batchSize: 4, groupSize: 1, memoryBytes: 1e6 }), shuffleImages: 6 };
    const victim = index.splits.train.shards[5].file;
    const bytes = fs.readFileSync(path.join(dir, victim));
    bytes[bytes.length - 3] ^= 1;
    fs.writeFileSync(path.join(dir, victim), bytes);
    const run = async (skipBadShards: boolean) => {
      const stream = new TrainStream({ root: dir, index, plan, partitions: { start: 0, end: plan.partitions.length }, seed: 1, skipBadShards });
      const keys: number[] = [];
      try {
        for (const epoch of [0, 1]) {
          await stream.startEpoch(epoch);
          for (let s = 0; s < plan.stepsPerEpoch; s++) {
            await stream.nextBatch();
            keys.push(...stream.keys);
          }
        }
      } finally {
        await stream.close();
      }
      return { keys, report: stream.report };
    };
    const error = await run(false).then(() => null, (e: unknown) => e);
    expect(error).toBeInstanceOf(DatasetError);
    expect((error as Error).message).toContain(`${path.join(dir, victim)}: its SHA-256 is not the index's: damaged (a changed byte) (shard 6 of 12 of the train split, 10 images)`);
    expect((error as Error).message).toContain('--skip-bad-shards');
    const skipped = await run(true);
    expect(skipped.report.lost).toEqual({ shards: [{ file: path.join(dir, victim), reason: expect.stringContaining('shard 6 of 12') as string }], images: 10 });
    expect(skipped.keys.filter((k) => k >= 50 && k < 60)).toEqual([]);
    expect(skipped.keys.length).toBe(2 * plan.stepsPerEpoch * 4);
  });
});

describe('shareDataMemory: the test split is counted in --data-memory', () => {
  // 100 training images (10 shards, 19,420 bytes) and 60 test images (9 shards, 11,688 bytes).
  const { index } = writePacked(100, 10, 60, 7);
  const testBytes = 11_688;

  test('both splits fit: both held whole; a test split within a quarter of the budget is held whole beside a streamed training split', () => {
    expect(shareDataMemory(index, 40_000)).toEqual({ budget: 40_000, testBytes, testWindowImages: null, trainBytes: 40_000 - testBytes });
    expect(shareDataMemory(index, 28_000 * 2)).toMatchObject({ testWindowImages: null, trainBytes: 56_000 - testBytes });
    expect(shareDataMemory(index, 12_000, ['test'])).toMatchObject({ testBytes, testWindowImages: null });
  });

  test('a bigger test split gets a window of an eighth of the budget (two halves) and 5 bytes an image; the training split the rest', () => {
    // 30,000 / 8 / (2 x 193) = 9 images a half.
    expect(shareDataMemory(index, 30_000)).toEqual({ budget: 30_000, testBytes: 2 * 9 * 193 + 5 * 60, testWindowImages: 9, trainBytes: 30_000 - (2 * 9 * 193 + 5 * 60) });
    expect(shareDataMemory(index, 8_000, ['test'])).toMatchObject({ testWindowImages: 2 });
    expect(shareDataMemory(index, 100, ['test'])).toMatchObject({ testWindowImages: 1 });
  });
});

describe('TestStream: a test split evaluated window by window', () => {
  /** Images [start, end) of the stream, read through its windows, as one set's pixels and labels. */
  async function streamed(stream: TestStream, start = 0, end = stream.count): Promise<{ images: number[]; labels: number[]; windows: number[] }> {
    const out = { images: [] as number[], labels: [] as number[], windows: [] as number[] };
    for await (const n of stream.windows(start, end)) {
      out.windows.push(n);
      out.images.push(...stream.window.images.subarray(0, n * BYTES));
      out.labels.push(...stream.window.labels.subarray(0, n));
    }
    return out;
  }
  const whole = (set: ImageSet, start = 0, end = set.count) => ({ images: Array.from(set.images.subarray(start * BYTES, end * BYTES)), labels: Array.from(set.labels.subarray(start, end)) });

  test('gives the images and labels of the split read whole, in order, in windows; any range of them', async () => {
    const { dir, index } = writePacked(30, 10, 60, 7);
    const stream = await TestStream.open({ root: dir, index, windowImages: 8 });
    const held = readPackedDataset(dir, { splits: ['test'] }).test;
    expect(stream.count).toBe(60);
    expect(stream.bytesVerified).toBe(11_688);
    const all = await streamed(stream);
    expect(all.windows).toEqual([8, 8, 8, 8, 8, 8, 8, 4]);
    expect({ images: all.images, labels: all.labels }).toEqual(whole(held));
    expect(Array.from(stream.labels)).toEqual(Array.from(held.labels));
    const part = await streamed(stream, 13, 31);
    expect({ images: part.images, labels: part.labels }).toEqual(whole(held, 13, 31));
    expect((await streamed(stream, 5, 5)).windows).toEqual([]);
  });

  test('--limit-test and --classes choose the images the whole split would, reading only the first shards that hold them', async () => {
    const { dir, index } = writePacked(30, 10, 60, 7);
    const held = readPackedDataset(dir, { splits: ['test'] }).test;
    // The first shard (7 images) holds 2 of label 2 and 2 of label 0: enough for 4, not for 6.
    for (const [limit, shards] of [[4, 1], [6, 2]]) {
      const stream = await TestStream.open({ root: dir, index, windowImages: 3, limit, classes: [2, 0] });
      expect(stream.bytesVerified).toBe(shards * 1363);
      expect(stream.count).toBe(limit);
      const expected = subset(held, { limit, classes: [2, 0] });
      expect(await streamed(stream).then((s) => ({ images: s.images, labels: s.labels }))).toEqual(whole(expected));
    }
    await expect(TestStream.open({ root: dir, index, windowImages: 3, limit: 61 })).rejects.toThrow(/limit 61 is more than the 60 images/);
  });

  test('a damaged or missing test shard is named (file and place) when the stream opens, before any image is used; --skip-bad-shards leaves it out and counts it', async () => {
    const { dir, index } = writePacked(30, 10, 60, 7);
    const victim = path.join(dir, index.splits.test.shards[2].file);
    const bytes = fs.readFileSync(victim);
    bytes[bytes.length - 5] ^= 4;
    fs.writeFileSync(victim, bytes);
    fs.unlinkSync(path.join(dir, index.splits.test.shards[6].file));
    const error = await TestStream.open({ root: dir, index, windowImages: 4 }).then(() => null, (e: unknown) => e);
    expect(error).toBeInstanceOf(DatasetError);
    expect((error as Error).message).toMatch(/test-00006\.shard: missing \(shard 7 of 9 of the test split, 7 images\)/);
    fs.writeFileSync(path.join(dir, index.splits.test.shards[6].file), Buffer.alloc(0));
    const damaged = await TestStream.open({ root: dir, index, windowImages: 4 }).then(() => null, (e: unknown) => e);
    expect((damaged as Error).message).toContain(`${path.join(dir, index.splits.test.shards[6].file)}: 0 bytes, the index says 1363`);
    fs.unlinkSync(path.join(dir, index.splits.test.shards[6].file));
    const skipped = await TestStream.open({ root: dir, index, windowImages: 4, skipBadShards: true });
    expect(skipped.lost.images).toBe(14);
    expect(skipped.lost.shards.map((s) => s.reason)).toEqual([
      expect.stringContaining('missing (shard 7 of 9 of the test split, 7 images)') as string,
      expect.stringContaining("its SHA-256 is not the index's: damaged (a changed byte) (shard 3 of 9 of the test split, 7 images)") as string,
    ]);
    const held = readPackedDataset(dir, { splits: ['test'], skipBadShards: true }).test;
    expect(skipped.count).toBe(46);
    expect(await streamed(skipped).then((s) => ({ images: s.images, labels: s.labels }))).toEqual(whole(held));
  });

  test('a caller that stops after one window can start again (no read left writing into its buffers)', async () => {
    const { dir, index } = writePacked(30, 10, 60, 7);
    const stream = await TestStream.open({ root: dir, index, windowImages: 8 });
    for await (const n of stream.windows()) {
      expect(n).toBe(8);
      break;
    }
    const held = readPackedDataset(dir, { splits: ['test'] }).test;
    expect(await streamed(stream, 40, 60).then((s) => ({ images: s.images, labels: s.labels }))).toEqual(whole(held, 40, 60));
  });
});
