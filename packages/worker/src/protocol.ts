import type { ImageSet, Normalization } from '@convoy/data';
import type { ModelSpec } from '@convoy/nn';

/**
 * What crosses the thread boundary between a GradientPool (the coordinator side) and its piscina
 * worker threads. Bulk data lives on SharedArrayBuffers handed over once in `WorkerSetup` (piscina
 * `workerData`); tasks and results are small descriptors.
 */

export type { ModelSpec };

/** The optimizer the workers run on their chunk of the arena; plain JSON. */
export type OptimizerSpec =
  | { name: 'sgd'; momentum: number; nesterov: boolean; weightDecay: number; dampening?: number }
  | { name: 'adamw'; beta1: number; beta2: number; eps: number; weightDecay: number };

/** An ImageSet travels to a worker as views of SharedArrayBuffers (shared, not copied). */
export type SharedImageSet = ImageSet;

/** Handed to every thread once, as piscina `workerData`. */
export interface WorkerSetup {
  modelSpec: ModelSpec;
  /** Kernel backend name for createBackend ('auto', 'wasm', 'js', 'reference', ...). */
  backend: string;
  /** Floats in one parameter arena. */
  paramCount: number;
  /** The parameters: paramCount floats, read by every thread. */
  params: SharedArrayBuffer;
  /** Gradient slots: slots x paramCount floats; slot k belongs to the task that carries slot k. */
  grads: SharedArrayBuffer;
  slots: number;
  /** The averaged gradient (paramCount floats), written by the reduce-scatter. */
  reduced: SharedArrayBuffer;
  /** Sample indices of the current global batch (Uint32), written by the coordinator before each step. */
  batchIndices: SharedArrayBuffer;
  /** Optimizer state arrays, each paramCount floats (e.g. momentum, or exp_avg + exp_avg_sq). */
  optimizer: { spec: OptimizerSpec; state: Record<string, SharedArrayBuffer> };
  train: SharedImageSet;
  test: SharedImageSet | null;
  /** Images per forward pass during evaluation (bounds activation memory). */
  evalChunk: number;
  /**
   * Int32 per lane (gradient slot, reduce/step chunk, evaluation part; all < slots): the thread id
   * that picked up the lane's current task, written by the worker as it starts, so the coordinator
   * can name the thread of a task whose thread died.
   */
  taskOwners: SharedArrayBuffer;
  /** Per-channel normalisation; default the data package's CIFAR-10 statistics. */
  normalization?: Normalization;
}

export interface GradientTask {
  kind: 'gradients';
  slot: number;
  /** The shard: positions [start, end) of the shared batchIndices array. */
  start: number;
  end: number;
  /** Augmentation key: samples are augmented by (seed, epoch, sample index), never by thread. */
  epoch: number;
  seed: number;
  augment: boolean;
}

export interface GradientResult {
  slot: number;
  /** Sum (not mean) of the per-sample losses; NaN when the forward pass produced non-finite logits. */
  lossSum: number;
  correct: number;
  count: number;
  /** Seconds this thread spent in fill + forward + backward. */
  seconds: number;
  backend: string;
  threadId: number;
  /** Set when the forward pass overflowed (lossSum is then NaN): what the worker saw. */
  diverged?: string;
}

/** reduced[i] = scale * sum over `slots` (in slot order) of grads[slot][i], for i in [start, end). */
export interface ReduceTask {
  kind: 'reduce';
  chunk: number;
  start: number;
  end: number;
  slots: number[];
  scale: number;
}

/** One optimizer step: learning rate, 1-based step index, and (SGD) the momentum for this step. */
export interface OptimizerStepRequest {
  lr: number;
  step: number;
  momentum?: number;
}

/** Optimizer step alone on params[start, end), with the already reduced gradient. */
export interface StepTask {
  kind: 'step';
  chunk: number;
  start: number;
  end: number;
  step: OptimizerStepRequest;
}

export interface ReduceResult {
  chunk: number;
  /** False when the reduced gradient holds NaN or Inf in this chunk. */
  finite: boolean;
  seconds: number;
}

export interface EvaluateTask {
  kind: 'evaluate';
  /** Which of the evaluation's parts (< slots) this is. */
  part: number;
  set: 'train' | 'test';
  start: number;
  end: number;
}

export interface EvaluateResult {
  lossSum: number;
  correct: number;
  count: number;
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

export type WorkerTask = GradientTask | ReduceTask | StepTask | EvaluateTask | DescribeTask;

/** The lane of a task (see WorkerSetup.taskOwners), or -1 for tasks without one. */
export function taskLane(task: WorkerTask): number {
  switch (task.kind) {
    case 'gradients':
      return task.slot;
    case 'reduce':
    case 'step':
      return task.chunk;
    case 'evaluate':
      return task.part;
    default:
      return -1;
  }
}
