import { promises as fsp } from 'fs';
import * as path from 'path';
import { DatasetError } from './datasetError';
import { allocateImageSet, type ImageSet } from './imageSet';
import { SHARD_HEADER_BYTES, type PackedIndex, type PackedShard } from './packedFormat';
import type { CountProgressHandler } from './progress';
import { badShardsError, missingOrCutShards } from './readPackedDataset';
import { chooseSubset } from './subset';
import { verifyShard } from './verifyShard';

export interface TestStreamOptions {
  /** The packed folder and its index. */
  root: string;
  index: PackedIndex;
  /** Images of the evaluation window (DataMemoryShare.testWindowImages). */
  windowImages: number;
  /** Evaluate a class-balanced subset of this many images of the first shards (--limit-test), as the whole split would. */
  limit?: number;
  /** Only these labels, relabelled 0..k-1 in this order (--classes). */
  classes?: readonly number[];
  /** Leave out damaged or missing test shards (counted in `lost`) instead of failing. */
  skipBadShards?: boolean;
  /** Images verified so far. */
  onProgress?: CountProgressHandler;
}

/** A test shard kept, and where its images start in the split as read. */
interface KeptShard {
  shard: PackedShard;
  file: string;
  first: number;
}

/**
 * A packed test split evaluated without holding it: opened once (every shard it needs checked
 * against its SHA-256 and its labels read, so damage is found before training starts), then read
 * window by window into `window`, the small shared set the worker threads evaluate, each time it is
 * evaluated. The images are those the whole split would give (the same shards, --limit-test and
 * --classes choices and order), so the sums are the same up to float rounding.
 */
export class TestStream {
  /** The images of the current window (the pool's test set); `windows()` fills it. */
  readonly window: ImageSet;
  /** Labels of every image evaluated, in order (relabelled by `classes`). */
  readonly labels: Uint8Array;
  /** Test shards left out under skipBadShards, and their images. */
  readonly lost: { shards: { file: string; reason: string }[]; images: number };
  /** Shard bytes verified when opened. */
  readonly bytesVerified: number;
  private readonly staging: { images: Uint8Array; labels: Uint8Array };
  private readonly imageBytes: number;

  private constructor(
    private readonly kept: readonly KeptShard[],
    /** Index (in the split as read) of each image evaluated, in order. */
    private readonly chosen: Uint32Array,
    labels: Uint8Array,
    index: PackedIndex,
    windowImages: number,
    lost: TestStream['lost'],
    bytesVerified: number,
  ) {
    this.labels = labels;
    this.lost = lost;
    this.bytesVerified = bytesVerified;
    this.imageBytes = index.channels * index.resolution * index.resolution;
    this.window = allocateImageSet(windowImages, { channels: index.channels, height: index.resolution, width: index.resolution });
    this.staging = { images: new Uint8Array(windowImages * this.imageBytes), labels: new Uint8Array(windowImages) };
  }

  /** Images evaluated. */
  get count(): number {
    return this.chosen.length;
  }

  /**
   * Checks the test shards `options` needs (missing or cut ones from their sizes, then each one's
   * SHA-256, through a 1 MiB buffer), reads their labels and chooses the images to evaluate. A
   * damaged shard is a DatasetError BAD_SHARD naming the file and its place, or left out and counted
   * under skipBadShards.
   */
  static async open(options: TestStreamOptions): Promise<TestStream> {
    const { index } = options;
    const root = path.resolve(options.root);
    const list = index.splits.test.shards;
    const place = (n: number) => `shard ${n + 1} of ${list.length} of the test split, ${list[n].count} images`;
    const lost: TestStream['lost'] = { shards: [], images: 0 };
    const skip = (bad: { file: string; reason: string }[], count: number) => {
      if (!options.skipBadShards) throw badShardsError(bad);
      lost.shards.push(...bad);
      lost.images += count;
    };
    const missing = missingOrCutShards(root, index, ['test']);
    const missingFiles = new Set(missing.map((m) => path.basename(m.file)));
    if (missing.length > 0) skip(missing, list.filter((s) => missingFiles.has(s.file)).reduce((t, s) => t + s.count, 0));
    const scratch = new Uint8Array(1024 * 1024);
    const kept: KeptShard[] = [];
    const labelParts: Uint8Array[] = [];
    let held = 0;
    let bytesVerified = 0;
    const total = options.limit ?? index.splits.test.count;
    const enough = quotaMet(options.limit, options.classes ?? index.classNames.map((_, c) => c));
    options.onProgress?.({ done: 0, total });
    for (let n = 0; n < list.length && !enough(labelParts); n++) {
      const shard = list[n];
      if (missingFiles.has(shard.file)) continue;
      const file = path.join(root, shard.file);
      const problem = (await verifyShard(file, shard, scratch)) ?? (await readLabels(file, shard, index.classNames.length, labelParts));
      bytesVerified += shard.bytes;
      if (problem) {
        skip([{ file, reason: `${problem} (${place(n)})` }], shard.count);
        continue;
      }
      kept.push({ shard, file, first: held });
      held += shard.count;
      options.onProgress?.({ done: Math.min(held, total), total });
    }
    const labels = new Uint8Array(held);
    labelParts.reduce((at, part) => (labels.set(part, at), at + part.length), 0);
    if (options.limit === undefined && !options.classes) {
      return new TestStream(kept, Uint32Array.from({ length: held }, (_, i) => i), labels, index, options.windowImages, lost, bytesVerified);
    }
    // A RangeError (a limit above what the classes hold) says what to change, as subset's does.
    const choice = chooseSubset(labels, { limit: options.limit, classes: options.classes });
    const chosenLabels = Uint8Array.from(choice.chosen, (i) => choice.newLabel[labels[i]]);
    return new TestStream(kept, Uint32Array.from(choice.chosen), chosenLabels, index, options.windowImages, lost, bytesVerified);
  }

  /**
   * Fills `window` with images [start, end) of those evaluated, a window at a time, yielding how
   * many it holds; the next window is read while the caller evaluates this one.
   */
  async *windows(start = 0, end = this.count): AsyncGenerator<number> {
    if (!(Number.isInteger(start) && Number.isInteger(end) && 0 <= start && start <= end && end <= this.count)) {
      throw new RangeError(`TestStream: [${start}, ${end}) is not a range of the ${this.count} test images`);
    }
    const size = this.window.count;
    let pending: Promise<number> | null = start < end ? this.readInto(start, Math.min(end, start + size)) : null;
    try {
      for (let at = start; pending; ) {
        const n = await pending;
        pending = null;
        this.window.images.set(this.staging.images.subarray(0, n * this.imageBytes));
        this.window.labels.set(this.staging.labels.subarray(0, n));
        at += n;
        if (at < end) pending = this.readInto(at, Math.min(end, at + size));
        yield n;
      }
    } finally {
      // A caller that stops early (a failed evaluation) leaves no read writing into the staging buffer.
      if (pending) await pending.catch(() => 0);
    }
  }

  /** Reads evaluated images [from, to) into the staging buffer: one read per run of consecutive images in a shard. */
  private async readInto(from: number, to: number): Promise<number> {
    const b = this.imageBytes;
    let k = from;
    while (k < to) {
      const i = this.chosen[k];
      const { shard, file, first } = this.shardOf(i);
      let run = 1;
      while (k + run < to && this.chosen[k + run] === i + run && i + run < first + shard.count) run++;
      const handle = await fsp.open(file, 'r');
      try {
        const position = SHARD_HEADER_BYTES + shard.count + (i - first) * b;
        const into = this.staging.images.subarray((k - from) * b, (k - from + run) * b);
        for (let done = 0; done < into.length; ) {
          const { bytesRead } = await handle.read(into, done, into.length - done, position + done);
          if (bytesRead <= 0) throw new DatasetError('BAD_SHARD', `${file} ends early: cut after it was verified (a test shard)`);
          done += bytesRead;
        }
      } finally {
        await handle.close();
      }
      k += run;
    }
    this.staging.labels.set(Uint8Array.from({ length: to - from }, (_, j) => this.labels[from + j]));
    return to - from;
  }

  /** The kept shard holding image `i` of the split as read. */
  private shardOf(i: number): KeptShard {
    let lo = 0;
    let hi = this.kept.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.kept[mid].first <= i) lo = mid;
      else hi = mid - 1;
    }
    return this.kept[lo];
  }
}

/**
 * Whether the labels read so far hold --limit-test's class-balanced quota of every class (subset's
 * quotas): then the shards after them are not needed, and subset's choice from these labels is the
 * one it makes from the whole split. Never, without a limit.
 */
function quotaMet(limit: number | undefined, classes: readonly number[]): (parts: readonly Uint8Array[]) => boolean {
  if (limit === undefined) return () => false;
  const k = classes.length;
  const quota = new Int32Array(256).fill(0);
  classes.forEach((c, i) => (quota[c] = Math.floor(limit / k) + (i < limit % k ? 1 : 0)));
  return (parts) => {
    const seen = new Int32Array(256);
    for (const part of parts) for (const label of part) seen[label]++;
    return classes.every((c) => seen[c] >= quota[c]);
  };
}

/** Reads a verified shard's labels into `into` (a new part); the problem in words when one is not a class. */
async function readLabels(file: string, shard: PackedShard, classes: number, into: Uint8Array[]): Promise<string | null> {
  const labels = new Uint8Array(shard.count);
  const handle = await fsp.open(file, 'r');
  try {
    const { bytesRead } = await handle.read(labels, 0, shard.count, SHARD_HEADER_BYTES);
    if (bytesRead < shard.count) return 'ends early: cut';
  } finally {
    await handle.close();
  }
  const bad = labels.findIndex((l) => l >= classes);
  if (bad >= 0) return `image ${bad} has label ${labels[bad]}, but there are ${classes} classes`;
  into.push(labels);
  return null;
}
