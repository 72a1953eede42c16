export { Module } from './module';
export type { StepContext } from './module';
export { createBuffers, applyGroupStatisticsInOrder, ghostGroupSize } from './groupStatistics';
export { BatchNorm2d, DEFAULT_GHOST_GROUP_SIZE } from './layers/batchnorm2d';
export type { BatchNorm2dOptions } from './layers/batchnorm2d';
export { GELU, erf, erfc } from './layers/gelu';
export { Dropout, layerKey } from './layers/dropout';
export type { DropoutOptions } from './layers/dropout';
export { Residual } from './layers/residual';
export { Scale } from './layers/scale';
export type { Size2 } from './options';
export { Conv2d, NO_INPUT_GRADIENT } from './layers/conv2d';
export type { Conv2dOptions } from './layers/conv2d';
export { Linear } from './layers/linear';
export type { LinearOptions } from './layers/linear';
export { ReLU } from './layers/relu';
export { MaxPool2d, AvgPool2d, GlobalAvgPool2d, GlobalMaxPool2d } from './layers/pooling';
export type { Pool2dOptions } from './layers/pooling';
export { Flatten } from './layers/flatten';
export { Sequential } from './layers/sequential';
export type { SequentialOptions } from './layers/sequential';
export { ReusableTensor } from './buffers';
export { NonFiniteInputError } from './checks';
export { createParameters, countParameters } from './parameters';
export type { ModelParameters } from './parameters';
export { softmaxCrossEntropy } from './loss';
export type { LossReduction, SoftmaxCrossEntropyResult } from './loss';
export type { Optimizer, OptimizerStateOptions, OptimizerStepArgs } from './optim/optimizer';
export { SGD } from './optim/sgd';
export type { SGDOptions } from './optim/sgd';
export { AdamW } from './optim/adamw';
export type { AdamWOptions } from './optim/adamw';
export {
  constantSchedule, cosineSchedule, createSchedule, oneCycleMomentum, oneCycleSchedule, stepSchedule,
} from './optim/schedules';
export type { HyperparameterSchedules, OneCycleOptions, Schedule, ScheduleSpec } from './optim/schedules';
export { block, conv3, frontend, recipeNet, recipePlan, sequential, FRONTEND_MIN_RESOLUTION, MAX_RECIPE_WIDTH } from './recipe';
export type { BuildOptions, RecipeOptions, RecipePlan } from './recipe';
export { buildModel, initialParameters, modelInputOf } from './model';
export { buildLayerList } from './layerList';
export type { LayerListSpec, LayerSpec } from './layerList';
export type { LayerModelSpec, ModelSpec, RecipeModelSpec } from './model';
export { buildOptimizer, optimizerStateNames } from './optim/build';
export type { OptimizerSpec } from './optim/build';
export {
  checkModelFile, checkModelInput, formatModelFile, formatModelSummary, MODEL_PRESETS, ModelFileError, presetModelFile, recipeModelFile, recipeParameterNames,
} from './modelFile';
export type { CheckedModelFile, LayerRow, ModelPreset, RecipePresetOptions } from './modelFile';
