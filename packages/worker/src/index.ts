export { GradientPool, createGradientPool, WorkerTaskError } from './gradientPool';
export type { BatchRequest, EvaluationResult, GradientPoolOptions, GradientSummary, StepTimings, TrainStepResult } from './gradientPool';
export type {
  GradientResult, ModelSpec, OptimizerSpec, OptimizerStepRequest, WorkerSetup, WorkerTask,
} from './protocol';
export { createOptimizer } from './optimizerSpec';
export { alignedChunks, splitRange } from './shards';
export type { Range } from './shards';
export { resolveWorkerFile } from './workerFile';
export { syntheticImageSet } from './syntheticImageSet';
