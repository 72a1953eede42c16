import type { AugmentationKind, ImageSet, Normalization } from '@convoy/data';
import type { ModelSpec, OptimizerSpec, TtaMode } from '@convoy/nn';

/**
 * What crosses the thread boundary between a GradientPool (the coordinator side) and its piscina
 * worker threads. Bulk data lives on SharedArrayBuffers handed over once in `WorkerSetup` (piscina
 * `workerData`); tasks and results are small descriptors.
 *
 * Two words for the two ways work is divided (see shards.ts):
 * - a **shard** is a contiguous range of samples one task works on: shard k of the global batch
 *   writes the k-th gradient of the shared gradient buffer; an evaluation is split into shards too;
 * - a **chunk** is a contiguous range of parameters one task reduces and steps.
 * A task's **index** is its shard's or chunk's number (< threads).
 */

/** Handed to every thread once, as piscina `workerData`. */
export interface WorkerSetup {
  modelSpec: ModelSpec;
  /** Kernel backend name for backendChoice.ts: 'native' or a name kernels' selectBackend knows ('auto', 'wasm', 'reference', ...). */
  backend: string;
  /** Floats in one parameter arena. */
  paramCount: number;
  /** The parameters: paramCount floats, read by every thread. */
  params: SharedArrayBuffer;
  /** One gradient per batch shard: shards x paramCount floats. */
  shardGradients: SharedArrayBuffer;
  /** Number of batch shards (= threads). */
  shards: number;
  /**
   * The averaged gradient (its first paramCount floats), written by the reduce; the pool keeps step
   * totals after it, then, from float `groupStatisticsOffset`, one row of group statistics per ghost
   * group of the global batch (see groupStatisticsRowSize).
   */
  gradient: SharedArrayBuffer;
  /** The model's non-trainable buffers (BatchNorm running statistics): written by the coordinator only, read in eval. */
  buffers: SharedArrayBuffer;
  /** Where the group-statistics rows start in `gradient`, in floats. */
  groupStatisticsOffset: number;
  /** Floats per row (the model's groupStatisticsSize(); 0 without BatchNorm) and rows available. */
  groupStatisticsRowSize: number;
  groupStatisticsRows: number;
  /** Images per ghost group of the model's BatchNorm layers (1 without BatchNorm). */
  groupSize: number;
  /** Sample indices of the current batch (Uint32), written by the coordinator before each step. */
  batchIndices: SharedArrayBuffer;
  /** Each index's sample key (Uint32, parallel to batchIndices): what augmentation and the test fault key on. */
  batchKeys: SharedArrayBuffer;
  /** The optimizer, and its state arrays (each paramCount floats); null for an evaluation-only pool. */
  optimizer: { spec: OptimizerSpec; state: Record<string, SharedArrayBuffer> } | null;
  train: ImageSet;
  test: ImageSet | null;
  /** Images per forward pass during evaluation (bounds activation memory). */
  evalChunk: number;
  /**
   * Int32 per task index: the thread id that picked up the task with that index in the current
   * round trip, written by the worker as it starts, so the coordinator can name the thread of a
   * task whose thread died.
   */
  taskOwners: SharedArrayBuffer;
  /** Per-channel normalisation; default the data package's CIFAR-10 statistics. */
  normalization?: Normalization;
}

/** What the optimizer needs for one step. */
export interface StepHyperparameters {
  /** 0-based index of this optimizer step in the run: the index the schedules take. */
  step: number;
  lr: number;
  /** SGD: the momentum for this step (one-cycle); default the spec's. */
  momentum?: number;
}

/** Forward + backward on one shard of the batch; the SUM of its per-sample gradients lands in gradient `shard`. */
export interface GradientTask {
  kind: 'gradients';
  shard: number;
  /** Positions [start, end) of the shared batchIndices array. */
  start: number;
  end: number;
  /** Augmentation key: samples are augmented by (seed, epoch, sample index), never by thread. */
  epoch: number;
  seed: number;
  augment: boolean;
  /** Which augmentation `augment` applies (fillBatch's). */
  augmentation: AugmentationKind;
  /** Label smoothing eps of the loss, in [0, 1) (0: plain cross-entropy). */
  labelSmoothing: number;
  /** The optimizer step (0-based): with seed, keys the dropout masks. */
  step: number;
  /** Position of this shard's first image in the global batch (over all hosts), a multiple of groupSize. */
  batchOffset: number;
  /** Images in the global batch over all hosts. */
  globalBatch: number;
}

export interface GradientResult {
  shard: number;
  /** Sum (not mean) of the per-sample losses; NaN when the forward pass produced non-finite values. */
  lossSum: number;
  correct: number;
  count: number;
  /** Seconds this thread spent in fill + forward + backward. */
  seconds: number;
  backend: string;
  threadId: number;
  /** Set when the loss or this shard's gradient is not finite: what the worker saw. */
  diverged?: string;
}

/** gradient[i] = scale * sum over the first `shards` shard gradients (in shard order), for i in the chunk. */
export interface ReduceTask {
  kind: 'reduce';
  chunk: number;
  start: number;
  end: number;
  shards: number;
  scale: number;
}

/** The optimizer steps params[start, end) with the (already reduced) gradient. */
export interface StepTask {
  kind: 'step';
  chunk: number;
  start: number;
  end: number;
  hyper: StepHyperparameters;
}

/** A reduce and then a step of the same chunk: one round trip per step on a single host. */
export interface ReduceStepTask {
  kind: 'reduceStep';
  chunk: number;
  start: number;
  end: number;
  shards: number;
  scale: number;
  hyper: StepHyperparameters;
}

export interface ChunkResult {
  chunk: number;
  seconds: number;
}

export interface EvaluateTask {
  kind: 'evaluate';
  shard: number;
  set: 'train' | 'test';
  start: number;
  end: number;
  /** Test-time augmentation measured beside the plain numbers; absent or 'none': plain only. */
  tta?: TtaMode;
}

export interface EvaluateResult {
  lossSum: number;
  correct: number;
  count: number;
  seconds: number;
  /** The loss sum and correct count of the test-time-augmented logits, when the task asked for them. */
  tta?: { lossSum: number; correct: number };
}

/** The network's outputs (logits) for samples [start, end) of a set, without augmentation: prediction. */
export interface LogitsTask {
  kind: 'logits';
  shard: number;
  set: 'train' | 'test';
  start: number;
  end: number;
}

export interface LogitsResult {
  /** (end - start) x classes logits, sample-major. */
  logits: Float32Array;
  seconds: number;
}

export interface DescribeTask {
  kind: 'describe';
}

export interface DescribeResult {
  backend: string;
  /** Why this backend (kernels' selectBackend explains 'auto'). */
  reason: string;
  threadId: number;
}

export type WorkerTask = GradientTask | ReduceTask | StepTask | ReduceStepTask | EvaluateTask | LogitsTask | DescribeTask;

/** The task's index (its shard or chunk), or -1 for tasks without one. */
export function taskIndex(task: WorkerTask): number {
  switch (task.kind) {
    case 'gradients':
    case 'evaluate':
    case 'logits':
      return task.shard;
    case 'reduce':
    case 'step':
    case 'reduceStep':
      return task.chunk;
    default:
      return -1;
  }
}

/** The task in words, for error messages: "gradients of shard 1", "reduce of chunk 0 [0, 4096)". */
export function describeTask(task: WorkerTask): string {
  switch (task.kind) {
    case 'gradients':
      return `gradients of shard ${task.shard}`;
    case 'evaluate':
      return `evaluation of ${task.set} shard ${task.shard} [${task.start}, ${task.end})`;
    case 'logits':
      return `logits of ${task.set} shard ${task.shard} [${task.start}, ${task.end})`;
    case 'reduce':
    case 'step':
    case 'reduceStep':
      return `${task.kind} of chunk ${task.chunk} [${task.start}, ${task.end})`;
    default:
      return task.kind;
  }
}
