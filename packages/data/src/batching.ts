import { Rng } from '@convoy/tensor';

// Keeps the shuffle's stream apart from the augmentation streams Rng.forKey(seed, epoch, sample):
// they would only meet at epoch 0x53485546, which no run reaches.
const SHUFFLE_STREAM = 0x53485546; // "SHUF"

/**
 * The order in which an epoch visits samples 0..count-1: a Fisher-Yates shuffle driven by
 * Rng.forKey(seed, SHUFFLE_STREAM, epoch). It depends on (count, seed, epoch) only, so every
 * thread count sees the same global batches, and a resumed run the same order.
 */
export function epochOrder(count: number, seed: number, epoch: number): Uint32Array {
  if (!Number.isInteger(count) || count < 0 || count > 0xffffffff) {
    throw new RangeError(`epochOrder: count must be an integer in [0, 2^32), got ${count}`);
  }
  if (!Number.isSafeInteger(seed) || !Number.isInteger(epoch) || epoch < 0) {
    throw new RangeError(`epochOrder: seed must be a safe integer and epoch a non-negative integer, got seed ${seed}, epoch ${epoch}`);
  }
  const order = new Uint32Array(count);
  for (let i = 0; i < count; i++) order[i] = i;
  return Rng.forKey(seed, SHUFFLE_STREAM, epoch).shuffle(order);
}

/**
 * What happens to the last, partial batch of an epoch:
 * - 'drop' (training): skipped, so every step has the full global batch and the same
 *   per-worker shard sizes; a different shuffle each epoch means no sample is always the one left out.
 * - 'keep' (evaluation): the last batch is smaller; losses and correct counts are summed per
 *   sample and divided by the number of samples, so it is weighted exactly like the others.
 */
export type LastBatchPolicy = 'drop' | 'keep';

/** Number of batches an epoch of `count` samples gives under `policy`. */
export function batchCount(count: number, batchSize: number, policy: LastBatchPolicy): number {
  assertPositiveInteger(batchSize, 'batchCount: batchSize');
  if (!Number.isInteger(count) || count < 0) throw new RangeError(`batchCount: count must be a non-negative integer, got ${count}`);
  return policy === 'drop' ? Math.floor(count / batchSize) : Math.ceil(count / batchSize);
}

/** The indices of batch `batch` of an epoch: a view into `order` (no copy); the last one may be short. */
export function batchSlice(order: Uint32Array, batch: number, batchSize: number): Uint32Array {
  assertPositiveInteger(batchSize, 'batchSlice: batchSize');
  const start = batch * batchSize;
  if (!Number.isInteger(batch) || batch < 0 || start >= order.length) {
    throw new RangeError(`batchSlice: batch ${batch} is outside 0..${Math.ceil(order.length / batchSize) - 1} for ${order.length} samples in batches of ${batchSize}`);
  }
  return order.subarray(start, Math.min(order.length, start + batchSize));
}

/**
 * Worker `worker`'s part [start, end) of a global batch of `batchSize` split over `workers`.
 * Shards are equal when `workers` divides `batchSize`; otherwise they differ by at most one
 * sample, the first batchSize mod workers shards taking the extra one (and with more workers
 * than samples some shards are empty). Uneven shards stay exact because a worker sums its
 * per-sample gradients and the all-reduce divides the total by the global batch size, never
 * by a shard's size.
 */
export function shardBounds(batchSize: number, workers: number, worker: number): { start: number; end: number } {
  assertPositiveInteger(workers, 'shardBounds: workers');
  if (!Number.isInteger(batchSize) || batchSize < 0) throw new RangeError(`shardBounds: batchSize must be a non-negative integer, got ${batchSize}`);
  if (!Number.isInteger(worker) || worker < 0 || worker >= workers) {
    throw new RangeError(`shardBounds: worker ${worker} is outside 0..${workers - 1}`);
  }
  const base = Math.floor(batchSize / workers);
  const extra = batchSize % workers;
  const start = worker * base + Math.min(worker, extra);
  return { start, end: start + base + (worker < extra ? 1 : 0) };
}

function assertPositiveInteger(value: number, what: string): void {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${what} must be a positive integer, got ${value}`);
}
