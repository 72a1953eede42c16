import { splitBytes } from './dataMemory';
import type { PackedIndex, PackedShard } from './packedFormat';

/**
 * How a packed training split too big for the memory budget is streamed (docs/DISTRIBUTED.md,
 * "Streaming a packed dataset"). The shards are dealt to a fixed number of partitions (MosaicML
 * Streaming's "canonical nodes"); each partition is one seeded stream (a shard permutation per
 * epoch through a shuffle buffer); every global batch takes `perPartition` consecutive positions
 * from each partition in partition order. Nothing here depends on how many ranks or threads run, so
 * neither does the order: a rank owns a contiguous range of partitions (partitionsOfRank), which is
 * a contiguous, ghost-group-aligned range of every global batch.
 */
export interface StreamPlan {
  /** The partitions' shards, each with its sample keys and place, in index order. */
  readonly partitions: readonly StreamShard[][];
  /** Images each partition gives each global batch (batch size / partitions, whole ghost groups). */
  readonly perPartition: number;
  /** Images of each partition's shuffle buffer. */
  readonly shuffleImages: number;
  /** Full global batches per epoch: the smallest partition's images over perPartition, rounded down. */
  readonly stepsPerEpoch: number;
  /** Training images streamed: the split's (less any shard left out), or the --limit-train prefix's. */
  readonly images: number;
  /** Images read per disk read (one chunk of a shard's pixels), and the largest shard's image count. */
  readonly chunkImages: number;
  readonly maxShardImages: number;
  readonly imageBytes: number;
  /** The budget the plan was made for, in bytes (the training split's share of --data-memory: what one process holding every partition may use). */
  readonly memoryBytes: number;
}

/** A shard of the training split as a stream reads it. */
export interface StreamShard extends PackedShard {
  /** The sample key of its first image: its place in the split (keys augmentation, names test faults). */
  readonly first: number;
  /** Its first images the run uses: all `count`, or fewer in the last shard of a --limit-train prefix. */
  readonly used: number;
  /** "shard 3 of 12 of the train split, 5000 images", for messages. */
  readonly place: string;
}

/** The default budget of `--data-memory`. */
export const DEFAULT_DATA_MEMORY = 1024 ** 3;
/** Most partitions a plan deals the shards to (also the most ranks that can read their own shards). */
export const MAX_PARTITIONS = 16;
/** Bytes of one pixel read from a shard: big enough for sequential disk reads, small beside any budget. */
const CHUNK_BYTES = 1024 * 1024;

/** Why a streamed dataset cannot run as asked; the message says what to change. */
export class StreamPlanError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StreamPlanError';
  }
}

/** Bytes of the training split (its shard files): held whole when this fits the budget. */
export function trainSplitBytes(index: PackedIndex): number {
  return splitBytes(index, 'train');
}

export interface StreamPlanOptions {
  /** Global batch size. */
  batchSize: number;
  /** The network's BatchNorm ghost-group size (1 without BatchNorm): partitions give whole groups. */
  groupSize: number;
  /** The training split's share of --data-memory (shareDataMemory's trainBytes). */
  memoryBytes: number;
  /** The test split's share of --data-memory, for messages (what --data-memory must cover beside the stream). Default 0. */
  testBytes?: number;
  /** Shard files left out (missing or cut, under --skip-bad-shards). */
  leftOut?: ReadonlySet<string>;
  /** Stream only the first this many images of the shards in index order (--limit-train): the same images at any thread or rank count. */
  limit?: number;
}

/**
 * The plan for streaming `index`'s training split within `memoryBytes`: the most partitions (up to
 * MAX_PARTITIONS, at most one per shard) that divide the batch into whole ghost groups and leave each
 * partition a shuffle buffer of at least one batch share; the rest of the budget goes to the
 * shuffle buffers. A StreamPlanError says what to change when nothing fits.
 */
export function planStream(index: PackedIndex, options: StreamPlanOptions): StreamPlan {
  const { batchSize, groupSize, memoryBytes } = options;
  const imageBytes = index.channels * index.resolution * index.resolution;
  const list = index.splits.train.shards;
  let first = 0;
  const kept: StreamShard[] = list.map((shard, n) => {
    const s = { ...shard, first, used: shard.count, place: `shard ${n + 1} of ${list.length} of the train split, ${shard.count} images` };
    first += shard.count;
    return s;
  }).filter((s) => !options.leftOut?.has(s.file));
  const available = kept.reduce((t, s) => t + s.count, 0);
  if (options.limit !== undefined && options.limit > available) {
    throw new StreamPlanError(`--limit-train ${options.limit} is more than the ${available} training images${kept.length < list.length ? ' left' : ''}; use at most ${available}`);
  }
  const shards = limitedPrefix(kept, options.limit);
  if (shards.length === 0) throw new StreamPlanError('no training shard is left to read');
  if (batchSize % groupSize !== 0) {
    throw new StreamPlanError(`a streamed dataset needs whole BatchNorm ghost groups in every batch: use a --batch-size that is a multiple of ${groupSize}`);
  }
  const groups = batchSize / groupSize;
  const maxShardImages = Math.max(...shards.map((s) => s.count));
  const chunkImages = Math.max(1, Math.min(maxShardImages, Math.floor(CHUNK_BYTES / imageBytes)));
  let tightest: { partitions: number; needs: number } | null = null;
  for (let p = Math.min(MAX_PARTITIONS, shards.length, groups); p >= 1; p--) {
    if (groups % p !== 0) continue;
    const perPartition = batchSize / p;
    const shuffleImages = shuffleCapacity(memoryBytes, p, batchSize, imageBytes, chunkImages, maxShardImages);
    const needs = streamBytes(p, batchSize, imageBytes, chunkImages, maxShardImages, perPartition);
    if (shuffleImages < perPartition) {
      tightest = { partitions: p, needs };
      continue;
    }
    const partitions = Array.from({ length: p }, (_, k) => shards.filter((_, i) => i % p === k));
    const smallest = Math.min(...partitions.map((part) => part.reduce((t, s) => t + s.used, 0)));
    const stepsPerEpoch = Math.floor(smallest / perPartition);
    if (stepsPerEpoch < 1) {
      throw new StreamPlanError(
        `--batch-size ${batchSize} takes ${perPartition} images from each of ${p} partitions of the training shards, but the smallest holds ${smallest}: lower --batch-size, ` +
          (options.limit !== undefined ? 'raise --limit-train, ' : '') + 'or pack with a smaller --shard-size (more shards)',
      );
    }
    const images = shards.reduce((t, s) => t + s.used, 0);
    return { partitions, perPartition, shuffleImages, stepsPerEpoch, images, chunkImages, maxShardImages, imageBytes, memoryBytes };
  }
  const needs = tightest?.needs ?? 0;
  const test = options.testBytes ?? 0;
  throw new StreamPlanError(
    `--data-memory ${mib(memoryBytes + test)} is too small to stream this training split (${mib(trainSplitBytes(index))} in ${list.length} shards)` +
      (test > 0 ? ` beside the test split's ${mib(test)}` : '') +
      `: even ${tightest?.partitions ?? 1} partition(s) need ${mib(needs)} (the batch, read buffers, and a shuffle buffer of one batch share). ` +
      `Raise --data-memory to at least ${mib(needs + test)}, or lower --batch-size`,
  );
}

/** The shards that hold the first `limit` images (in index order; the last one used only in part), or all of them without a limit. */
function limitedPrefix(shards: StreamShard[], limit: number | undefined): StreamShard[] {
  if (limit === undefined) return shards;
  const prefix: StreamShard[] = [];
  for (let held = 0, n = 0; held < limit && n < shards.length; n++) {
    const used = Math.min(shards[n].count, limit - held);
    prefix.push({ ...shards[n], used });
    held += used;
  }
  return prefix;
}

/** Bytes one process uses to stream `partitions` partitions with shuffle buffers of `shuffleImages` images each. */
export function streamBytes(partitions: number, batchSize: number, imageBytes: number, chunkImages: number, maxShardImages: number, shuffleImages: number): number {
  // The batch copied for the workers (pixels, label, 4-byte key per image), and per partition: the
  // shuffle buffer (pixels, label, key), three chunk buffers (the chunk drawn from, the one read
  // ahead, and the next shard's SHA-256 check) and one shard's labels.
  const batch = batchSize * (imageBytes + 5);
  return batch + partitions * (shuffleImages * (imageBytes + 5) + 3 * chunkImages * imageBytes + maxShardImages);
}

/** The memory a plan uses in a process that holds `partitions` of its partitions (a rank holds its own). */
export function planBytes(plan: StreamPlan, partitions: number): number {
  return streamBytes(partitions, partitions * plan.perPartition, plan.imageBytes, plan.chunkImages, plan.maxShardImages, plan.shuffleImages);
}

function shuffleCapacity(memoryBytes: number, partitions: number, batchSize: number, imageBytes: number, chunkImages: number, maxShardImages: number): number {
  const fixed = streamBytes(partitions, batchSize, imageBytes, chunkImages, maxShardImages, 0);
  return Math.max(0, Math.floor((memoryBytes - fixed) / (partitions * (imageBytes + 5))));
}

/**
 * The partitions [start, end) rank `rank` of `ranks` streams: an equal, contiguous range. A
 * StreamPlanError when the ranks do not divide the partitions.
 */
export function partitionsOfRank(plan: StreamPlan, ranks: number, rank: number): { start: number; end: number } {
  const p = plan.partitions.length;
  if (p % ranks !== 0) {
    const fits = Array.from({ length: p }, (_, i) => i + 1).filter((r) => p % r === 0);
    throw new StreamPlanError(
      `this streamed dataset is read as ${p} partition(s) (fixed by --batch-size, the shards and --data-memory, so the order does not depend on the ranks), ` +
        `and ${ranks} ranks cannot share them equally: run ${fits.join(', ')} rank(s), or choose a --batch-size and --data-memory that give a multiple of ${ranks} partitions`,
    );
  }
  const per = p / ranks;
  return { start: rank * per, end: (rank + 1) * per };
}

/** A size as --data-memory takes it, rounded up (so "at least" holds). */
function mib(bytes: number): string {
  if (bytes >= 1024 ** 3) return `${Math.ceil(bytes / 1024 ** 3 * 100) / 100}G`;
  if (bytes >= 1024 ** 2) return `${Math.ceil(bytes / 1024 ** 2 * 10) / 10}M`;
  return `${Math.ceil(bytes / 1024)}K`;
}
