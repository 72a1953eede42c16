import { batchSlice, epochOrder, type ImageSet, type TrainStream } from '@convoy/data';
import type { Range } from '@convoy/worker';

/** This process's part of one global batch, as the pool takes it. */
export interface BatchPart {
  /** Indices into the pool's training set. */
  indices: ArrayLike<number>;
  /** Which image each index is (keys its augmentation); absent when the index says so itself. */
  sampleKeys?: ArrayLike<number>;
}

/**
 * Where a run's batches come from: the seeded shuffle of a training set held whole, or a packed
 * split streamed from its shards. Either gives every step the same global batch whatever the
 * threads and ranks, and can start at any step of an epoch (what --resume needs).
 */
export interface BatchSource {
  /** Positions the source at step `stepInEpoch` of `epoch`. */
  startEpoch(epoch: number, stepInEpoch: number): Promise<void>;
  /** This process's part of the epoch's batch `stepInEpoch` (called in step order after startEpoch). */
  next(stepInEpoch: number): Promise<BatchPart>;
  /** The training labels to judge chance level by: all of them, or those drawn so far. */
  labelsForChance(): Uint8Array;
}

/** A training set in memory: epochOrder's shuffle of the whole set, this process's share of each batch. */
export function wholeSetBatches(train: ImageSet, seed: number, batchSize: number, share: Range): BatchSource {
  let order: Uint32Array = new Uint32Array(0);
  return {
    startEpoch: (epoch) => {
      order = epochOrder(train.count, seed, epoch);
      return Promise.resolve();
    },
    next: (stepInEpoch) => Promise.resolve({ indices: batchSlice(order, stepInEpoch, batchSize).subarray(share.start, share.end) }),
    labelsForChance: () => train.labels.subarray(0, train.count),
  };
}

/** Labels kept for the chance level: a sample of a million is plenty, and bounds the memory. */
const MAX_LABELS_KEPT = 1 << 20;

/**
 * A streamed split: the stream copies this process's part of each batch into its small shared set
 * (the pool's training set), so the indices are always 0..n-1 and the sample keys say which images
 * they are. The labels drawn are kept (one byte an image) for the chance level.
 */
export function streamedBatches(stream: TrainStream): BatchSource {
  const identity = Uint32Array.from({ length: stream.batch.count }, (_, i) => i);
  let seen = new Uint8Array(1024);
  let seenCount = 0;
  return {
    startEpoch: (epoch, stepInEpoch) => stream.startEpoch(epoch, stepInEpoch),
    next: async () => {
      await stream.nextBatch();
      const labels = stream.batch.labels;
      if (seenCount >= MAX_LABELS_KEPT) return { indices: identity, sampleKeys: stream.keys };
      if (seenCount + labels.length > seen.length) {
        const grown = new Uint8Array(Math.max(2 * seen.length, seenCount + labels.length));
        grown.set(seen.subarray(0, seenCount));
        seen = grown;
      }
      seen.set(labels, seenCount);
      seenCount += labels.length;
      return { indices: identity, sampleKeys: stream.keys };
    },
    labelsForChance: () => seen.subarray(0, seenCount),
  };
}
