export { createGradientPool, WorkerTaskError } from './gradientPool';
export type {
  BatchRequest, CrossHostReducer, EvaluationResult, GradientPool, GradientPoolOptions, GradientSummary, StepTimings, TrainStepRequest, TrainStepResult,
} from './gradientPool';
export type { GradientResult, StepHyperparameters, WorkerSetup, WorkerTask } from './protocol';
export { alignedChunks, splitRange } from './shards';
export type { Range } from './shards';
export { resolveWorkerFile } from './workerFile';
export { syntheticImageSet } from './syntheticImageSet';
