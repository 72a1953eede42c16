import type { KernelBackend } from '../backend';
import { maskByReluOutput, reluInPlace } from '../epilogue';
import { conv2dOutputHeight, conv2dOutputWidth } from '../shapes';
import { avgPool2d, avgPool2dBackward } from './avgPool2d';
import { batchNormBackward, batchNormForward } from './batchNorm';
import { conv2d } from './conv2d';
import { conv2dBackwardInput } from './conv2dBackwardInput';
import { conv2dBackwardWeights } from './conv2dBackwardWeights';
import { globalAvgPool, globalAvgPoolBackward } from './globalAvgPool';
import { maxPool2d, maxPool2dBackward } from './maxPool2d';

/** The plain-TS oracle every other backend is tested against. Never the default: it is slow. */
export const referenceBackend: KernelBackend = {
  name: 'reference',
  conv2d(g, input, weight, bias, output, epilogue) {
    conv2d(g, input, weight, bias, output);
    if (epilogue?.relu) reluInPlace(output, g.batch * g.outChannels * conv2dOutputHeight(g) * conv2dOutputWidth(g));
  },
  conv2dBackwardInput(g, gradOutput, weight, gradInput, reluMask) {
    conv2dBackwardInput(g, gradOutput, weight, gradInput);
    if (reluMask) maskByReluOutput(gradInput, reluMask, g.batch * g.inChannels * g.inHeight * g.inWidth);
  },
  conv2dBackwardWeights,
  maxPool2d,
  maxPool2dBackward,
  avgPool2d,
  avgPool2dBackward,
  globalAvgPool,
  globalAvgPoolBackward,
  batchNormForward,
  batchNormBackward,
};

export { avgPool2d, avgPool2dBackward, batchNormBackward, batchNormForward, conv2d, conv2dBackwardInput, conv2dBackwardWeights, globalAvgPool, globalAvgPoolBackward, maxPool2d, maxPool2dBackward };
