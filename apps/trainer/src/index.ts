export { runTraining, evaluateParameters, TrainingDivergedError, TrainingStepError } from './training';
export type { TrainingOptions, TrainingOutcome, TrainingStatus } from './training';
export {
  CHECKPOINT_FORMAT, CHECKPOINT_VERSION, CheckpointError, LATEST_CHECKPOINT, decodeCheckpoint, encodeCheckpoint, loadCheckpoint, saveCheckpoint, writeFileAtomic,
} from './checkpoint';
export type { CheckpointParameterEntry, CheckpointState } from './checkpoint';
export { DEFAULT_RUN_CONFIG, RUN_CONFIG_KEYS, OPTIMIZERS, SCHEDULES, cifar10ClassNamesFor, modelSpecFor, optimizerSpecFor, configProblems, userPath } from './config';
export { checkModelDescription, modelMismatch, optimizerStateNames, MAX_CHECKPOINT_CLASSES, MAX_CHECKPOINT_CHANNELS } from './checkpointModel';
export type { ModelDescription, StoredArrays } from './checkpointModel';
export type { RunConfig, RuntimeConfig, OptimizerName, ScheduleName } from './config';
export { measureScaling, scalingTable, scalingChartSvg, threadLadder } from './scaling';
export type { ScalingOptions, ScalingResult } from './scaling';
export { lineChartSvg } from './svgChart';
export type { ChartSeries, LineChartOptions } from './svgChart';
export { MetricsLog } from './metricsLog';
export type { EpochRecord, MetricsRecord, StepRecord } from './metricsLog';
export { createProgram, exitCodeOf, main, USAGE_EXIT_CODE, UsageError } from './cli';
export type { ProgramOptions } from './cli';
export { LineProgress, NoProgress, TerminalProgress, createProgress, formatSeconds } from './progress';
export type { EpochProgress, ProgressReporter } from './progress';
export { hyperparameterSchedules } from './schedule';
export { learningCurveSvg, readEpochRecords } from './learningCurve';
export type { EpochPoint } from './learningCurve';
export { encodeSafetensors } from './safetensors';
export type { NamedTensor } from './safetensors';
export { exportSafetensors, EXPORT_FORMATS } from './commands/export';
export type { ExportFormat, ExportOptions } from './commands/export';
export { imageFiles, predictFiles, topClasses, IMAGE_EXTENSIONS } from './commands/predict';
export type { Prediction, PredictOptions } from './commands/predict';
