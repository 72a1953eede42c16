export {
  DEFAULT_RUN_CONFIG, RUN_CONFIG_KEYS, OPTIMIZERS, SCHEDULES, classCountOf, cifar10ClassNamesFor, modelSpecFor, optimizerSpecFor, configProblems,
} from './config';
export type { RunConfig, OptimizerName, ScheduleName } from './config';
export { hyperparameterSchedules } from './schedule';
export {
  BEST_CHECKPOINT, CHECKPOINT_FORMAT, CHECKPOINT_VERSION, CheckpointError, LATEST_CHECKPOINT, decodeCheckpoint, encodeCheckpoint,
} from './checkpoint';
export type { CheckpointState, CheckpointTensors } from './checkpoint';
export { checkpointStateOf } from './checkpointState';
export type { CheckpointSource } from './checkpointState';
export {
  checkModelDescription, firstNonFinite, modelMismatch, MAX_CHECKPOINT_CLASSES, MAX_CHECKPOINT_CHANNELS, MAX_CHECKPOINT_LAYERS, MAX_CHECKPOINT_LAYER_SIZE, MAX_CHECKPOINT_NESTING,
} from './checkpointModel';
export type { CheckpointParameterEntry, ModelDescription, StoredArrays } from './checkpointModel';
export {
  CHANCE_ACCURACY_SIGMAS, CHANCE_LOSS_TOLERANCE, chanceAccuracyBound, chanceLevel, describeCollapse, detectCollapse, warmupEpochs,
} from './collapse';
export type { ChanceLevel, Collapse, EpochSignals } from './collapse';
