import { batchCount, type StreamPlan } from '@convoy/data';
import type { Cluster } from '@convoy/cluster';
import { splitBatch, type Range } from '@convoy/worker';

/**
 * This process's place in a run: alone, or one rank of a multi-host (MPI) run. The global batch is
 * split over the ranks (and each rank's part over its threads); rank 0 alone reports progress,
 * writes the log and checkpoints; every rank evaluates its part of the test set.
 */
export interface RunPlacement {
  cluster: Cluster | null;
  ranks: number;
  rank: number;
  /** Rank 0 (or the only process): the one that reports, logs and checkpoints. */
  lead: boolean;
  /** This rank's part of every global batch (positions within the batch). */
  share: Range;
  stepsPerEpoch: number;
}

/**
 * Places the run, or throws a RangeError naming the flag to change when the batch cannot be split or
 * filled. `groupSize`: the model's BatchNorm ghost-group size (nn's ghostGroupSize; 1 without
 * BatchNorm): ranks get whole groups, so a group's statistics never straddle two hosts.
 */
export function placeRun(batchSize: number, trainCount: number, cluster: Cluster | null, groupSize = 1): RunPlacement {
  const ranks = cluster?.size ?? 1;
  const rank = cluster?.rank ?? 0;
  if (batchSize < ranks) {
    throw new RangeError(`--batch-size ${batchSize} is smaller than the ${ranks} ranks: every rank needs at least one sample per step; raise --batch-size`);
  }
  if (groupSize > 1 && Math.ceil(batchSize / groupSize) < ranks) {
    throw new RangeError(
      `--batch-size ${batchSize} gives ${Math.ceil(batchSize / groupSize)} BatchNorm group(s) of ${groupSize} images for ${ranks} ranks: every rank needs a whole group; ` +
        `use a --batch-size that is a multiple of ${groupSize * ranks}`,
    );
  }
  // The same split whatever the data, so the sum over ranks of the parts' gradients is the gradient of the whole batch.
  const share = splitBatch(batchSize, ranks, groupSize)[rank];
  const stepsPerEpoch = batchCount(trainCount, batchSize, 'drop');
  if (stepsPerEpoch < 1) {
    throw new RangeError(
      `--batch-size ${batchSize} is larger than the training set (${trainCount} images): no full batch to train on; lower --batch-size or raise --limit-train`,
    );
  }
  return { cluster, ranks, rank, lead: rank === 0, share, stepsPerEpoch };
}

/**
 * The place of this process in a run on a streamed split: its part of every global batch is its
 * range of the plan's partitions (partitionsOfRank), perPartition images each, so the split of the
 * batch between ranks is the partitions' and the epoch is the plan's.
 */
export function placeStreamedRun(plan: StreamPlan, partitions: { start: number; end: number }, cluster: Cluster | null): RunPlacement {
  const ranks = cluster?.size ?? 1;
  const rank = cluster?.rank ?? 0;
  const share = { start: partitions.start * plan.perPartition, end: partitions.end * plan.perPartition };
  return { cluster, ranks, rank, lead: rank === 0, share, stepsPerEpoch: plan.stepsPerEpoch };
}

/** "2 ranks x 2 thread(s) (this rank: 64 images per step)", or "2 thread(s)" alone. */
export function describeSpread(placement: RunPlacement, threads: number): string {
  const { share } = placement;
  return placement.cluster ? `${placement.ranks} ranks x ${threads} thread(s) (this rank: ${share.end - share.start} images per step)` : `${threads} thread(s)`;
}

/**
 * Whether this process was asked to stop, or (across hosts) any rank was: every rank calls this
 * before every step, so all of them see the same answer and stop after the same step.
 */
export async function interruptedAnywhere(signal: AbortSignal | undefined, cluster: Cluster | null): Promise<boolean> {
  const here = signal?.aborted === true;
  if (!cluster) return here;
  const votes = new Float32Array(new SharedArrayBuffer(4));
  votes[0] = here ? 1 : 0;
  await cluster.allReduce(votes, 'the vote on stopping before a step');
  return votes[0] > 0;
}
