import type { PackedIndex, PackedSplit } from './packedFormat';

/**
 * How `--data-memory` is shared between a packed dataset's two splits (docs/DISTRIBUTED.md,
 * "Memory"). The test split is counted first, from the index alone (so the training split's share,
 * and with it the streamed order, never depends on --limit-test):
 *
 * - both splits' shards fit the budget together, or the test split's fit a quarter of it: the test
 *   split is held whole (what --limit-test needs of it);
 * - otherwise it is evaluated through a window of an eighth of the budget (half of it the images
 *   evaluated, half the next ones read meanwhile), plus 5 bytes per test image (label and index).
 *
 * The training split gets the rest: held whole when its shards fit, else streamed within it.
 */
export interface DataMemoryShare {
  /** The budget shared (--data-memory), in bytes. */
  readonly budget: number;
  /** Bytes counted for the test split: its shards, or its window and per-image bookkeeping. */
  readonly testBytes: number;
  /** Images per evaluation window when the test split is streamed; null when it is held whole. */
  readonly testWindowImages: number | null;
  /** Bytes left for the training split (the budget of its stream when it does not fit). */
  readonly trainBytes: number;
}

/** Bytes of a split's shard files. */
export function splitBytes(index: PackedIndex, split: PackedSplit): number {
  return index.splits[split].shards.reduce((t, s) => t + s.bytes, 0);
}

/** The share of `budget` each split of `index` gets; with `splits` ['test'] alone (eval), the test split has all of it to fit in. */
export function shareDataMemory(index: PackedIndex, budget: number, splits: readonly PackedSplit[] = ['train', 'test']): DataMemoryShare {
  const train = splits.includes('train') ? splitBytes(index, 'train') : 0;
  const test = splits.includes('test') ? splitBytes(index, 'test') : 0;
  if (train + test <= budget || test <= budget / 4) return { budget, testBytes: test, testWindowImages: null, trainBytes: budget - test };
  const imageBytes = index.channels * index.resolution * index.resolution;
  const windowImages = Math.max(1, Math.floor(budget / 8 / (2 * (imageBytes + 1))));
  const testBytes = 2 * windowImages * (imageBytes + 1) + 5 * index.splits.test.count;
  return { budget, testBytes, testWindowImages: windowImages, trainBytes: Math.max(0, budget - testBytes) };
}
