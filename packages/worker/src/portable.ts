/**
 * `@convoy/worker/portable`: the pool, the protocol and the worker runtime without piscina or any
 * Node module, for hosts that bring their own threads (a browser's Web Workers): the coordinator
 * side builds `new GradientPool(options, runnerFactory)`, each thread calls
 * `createTaskHandler(setup, id)` and answers tasks with it.
 */
export { GradientPool, WorkerTaskError } from './gradientPool';
export type {
  BatchRequest, CrossHostReducer, EvaluationResult, TtaEvaluation, GradientPoolOptions, LookaheadCopy, GradientSummary, StepTimings, TrainStepRequest, TrainStepResult,
} from './gradientPool';
export { NATIVE_BACKEND, NATIVE_BF16_BACKEND, selectWorkerBackend } from './backendChoice';
export { constantLearningRate, scheduledStep, StepDivergedError } from './trainingStep';
export type { ScheduledStepRequest, ScheduledStepResult } from './trainingStep';
export { createTaskHandler } from './taskHandler';
export type { TaskHandler } from './taskHandler';
export type { TaskRunner, TaskRunnerFactory } from './taskRunner';
export type { DescribeResult, GradientResult, StepHyperparameters, WorkerSetup, WorkerTask } from './protocol';
export { alignedChunks, splitBatch, splitRange } from './shards';
export type { Range } from './shards';
export { syntheticImageSet } from './syntheticImageSet';
