export {
  DEFAULT_RUN_CONFIG, RUN_CONFIG_KEYS, OPTIMIZERS, SCHEDULES, classCountOf, cifar10ClassNamesFor, modelSpecFor, optimizerSpecFor, configProblems,
} from './config';
export type { RunConfig, OptimizerName, ScheduleName } from './config';
export { hyperparameterSchedules } from './schedule';
export {
  BEST_CHECKPOINT, CHECKPOINT_FORMAT, CHECKPOINT_VERSION, CheckpointError, LATEST_CHECKPOINT, decodeCheckpoint, encodeCheckpoint,
} from './checkpoint';
export type { CheckpointState } from './checkpoint';
export { checkpointStateOf } from './checkpointState';
export type { CheckpointSource } from './checkpointState';
export { checkModelDescription, modelMismatch, MAX_CHECKPOINT_CLASSES, MAX_CHECKPOINT_CHANNELS } from './checkpointModel';
export type { CheckpointParameterEntry, ModelDescription, StoredArrays } from './checkpointModel';
