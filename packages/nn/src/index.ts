export { Module } from './module';
export type { Size2 } from './options';
export { Conv2d } from './layers/conv2d';
export type { Conv2dOptions } from './layers/conv2d';
export { Linear } from './layers/linear';
export type { LinearOptions } from './layers/linear';
export { ReLU } from './layers/relu';
export { MaxPool2d, AvgPool2d, GlobalAvgPool2d } from './layers/pooling';
export type { Pool2dOptions } from './layers/pooling';
export { Flatten } from './layers/flatten';
export { Sequential } from './layers/sequential';
export { ReusableTensor } from './buffers';
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
export type { OneCycleOptions, Schedule, ScheduleSpec } from './optim/schedules';
export { block, conv3, frontend, recipeNet, recipePlan, sequential, FRONTEND_MIN_RESOLUTION, MAX_RECIPE_WIDTH } from './recipe';
export type { BuildOptions, RecipeOptions, RecipePlan } from './recipe';
export { buildModel } from './model';
export type { ModelSpec } from './model';
