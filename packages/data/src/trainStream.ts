import * as path from 'path';
import { allocateImageSet, type ImageSet } from './imageSet';
import type { PackedIndex } from './packedFormat';
import { emptyStreamReport, PartitionStream, type StreamReport } from './partitionStream';
import type { StreamPlan } from './streamPlan';

export interface TrainStreamOptions {
  /** The packed folder. */
  root: string;
  index: PackedIndex;
  plan: StreamPlan;
  /** The partitions this process streams (partitionsOfRank; all of them in a single process). */
  partitions: { start: number; end: number };
  seed: number;
  skipBadShards: boolean;
  /** Epochs the run trains (the last reads nothing of a next one ahead). Default: no end. */
  epochs?: number;
}

/**
 * This process's part of every global batch of a streamed training split: its partitions' draws,
 * partition after partition, copied into `batch` (a small shared ImageSet the worker threads read)
 * with each image's sample key (its place in the split) in `keys`. Position k of the batch is
 * position (start + k) of the global batch, so a rank's part is the contiguous range
 * [start x perPartition, end x perPartition) of it.
 */
export class TrainStream {
  /** The current batch part: perPartition images per partition, in partition order. */
  readonly batch: ImageSet;
  /** The sample key of each image of `batch`. */
  readonly keys: Uint32Array;
  /** What this process read (shard files, bytes) and left out. */
  readonly report: StreamReport = emptyStreamReport();
  private readonly streams: PartitionStream[];
  private readonly sink: { images: Uint8Array; labels: Uint8Array; keys: Uint32Array };

  constructor(private readonly options: TrainStreamOptions) {
    const { plan, partitions, index } = options;
    const { start, end } = partitions;
    if (!(Number.isInteger(start) && Number.isInteger(end) && start >= 0 && end > start && end <= plan.partitions.length)) {
      throw new RangeError(`TrainStream: partitions [${start}, ${end}) are not within the plan's ${plan.partitions.length}`);
    }
    const size = (end - start) * plan.perPartition;
    this.batch = allocateImageSet(size, { channels: index.channels, height: index.resolution, width: index.resolution });
    this.keys = new Uint32Array(new SharedArrayBuffer(size * 4));
    this.sink = { images: this.batch.images, labels: this.batch.labels, keys: this.keys };
    this.streams = Array.from({ length: end - start }, (_, k) => new PartitionStream({
      root: path.resolve(options.root),
      shards: plan.partitions[start + k],
      partition: start + k,
      seed: options.seed,
      imageBytes: plan.imageBytes,
      classes: index.classNames.length,
      shuffleImages: plan.shuffleImages,
      chunkImages: plan.chunkImages,
      maxShardImages: plan.maxShardImages,
      skipBadShards: options.skipBadShards,
      ...(options.epochs !== undefined ? { epochs: options.epochs } : {}),
      report: this.report,
    }));
  }

  /**
   * Positions the streams at step `stepInEpoch` of epoch `epoch` (PartitionStream.skip: the shuffle
   * buffers replayed on the images' places, only the images still in them read), so a resumed run
   * continues with exactly the batches an unbroken one would have had.
   */
  async startEpoch(epoch: number, stepInEpoch = 0): Promise<void> {
    const skip = stepInEpoch * this.options.plan.perPartition;
    await Promise.all(this.streams.map(async (stream) => {
      await stream.startEpoch(epoch);
      await stream.skip(skip);
    }));
  }

  /** Fills `batch` and `keys` with this process's part of the epoch's next global batch. */
  async nextBatch(): Promise<void> {
    const per = this.options.plan.perPartition;
    // Each partition writes its own range, so they can wait on their reads side by side.
    await Promise.all(this.streams.map((stream, k) => stream.take(per, this.sink, k * per)));
  }

  async close(): Promise<void> {
    await Promise.all(this.streams.map((s) => s.close()));
  }
}
