/**
 * What the page shares with the `convoy` CLI (apps/trainer) rather than restating: the run
 * configuration and its defaults, the model and optimizer it implies, the learning-rate schedule,
 * and the checkpoint format. The bundler compiles these modules from the trainer's sources; the
 * page never calls their file-system parts (see vite.config.ts).
 */
export { DEFAULT_RUN_CONFIG, cifar10ClassNamesFor, modelSpecFor, optimizerSpecFor, configProblems, type RunConfig } from '../../trainer/src/config';
export { hyperparameterSchedules } from '../../trainer/src/schedule';
export { CheckpointError, decodeCheckpoint, encodeCheckpoint, LATEST_CHECKPOINT, type CheckpointState } from '../../trainer/src/checkpoint';
