import {
  KernelBackend,
  conv2dMultiplyAdds,
  conv2dOutputHeight,
  conv2dOutputWidth,
  pool2dOutputHeight,
  pool2dOutputWidth,
} from '@convoy/kernels';
import { RECIPE_CONVS, RECIPE_GAP, RECIPE_POOLS, conv3x3, maxPool2x2 } from './recipeShapes';
import { timeCall, TimingOptions } from './timing';

export type OpName =
  | 'conv2d' | 'conv2dBackwardInput' | 'conv2dBackwardWeights'
  | 'maxPool2d' | 'maxPool2dBackward' | 'globalAvgPool' | 'globalAvgPoolBackward';

export interface OpMeasurement {
  op: OpName;
  /** e.g. "3->32 @32" or "128 @8". */
  shape: string;
  backend: string;
  seconds: number;
  cpuSeconds: number;
  /** Floating-point operations of one call: 2 per multiply-add for convs; 1 per input element read
   *  (a compare or an add) for pools, so pool "GFLOP/s" is really elements per nanosecond. */
  flops: number;
  gflops: number;
}

function filled(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = s / 4294967296 - 0.5;
  }
  return a;
}

/** Every conv and pool of the recipe network at `batch`, on one backend. */
export function measureOps(backend: KernelBackend, batch: number, timing: TimingOptions): OpMeasurement[] {
  const rows: OpMeasurement[] = [];
  const record = (op: OpName, shape: string, flops: number, fn: () => void) => {
    const { medianSeconds, medianCpuSeconds } = timeCall(fn, timing);
    rows.push({
      op, shape, backend: backend.name, seconds: medianSeconds, cpuSeconds: medianCpuSeconds, flops,
      gflops: flops / medianSeconds / 1e9,
    });
  };

  for (const { inChannels, outChannels, side } of RECIPE_CONVS) {
    const g = conv3x3(batch, inChannels, outChannels, side);
    const input = filled(batch * inChannels * side * side, 1);
    const weight = filled(outChannels * inChannels * 9, 2);
    const bias = filled(outChannels, 3);
    const outSize = batch * outChannels * conv2dOutputHeight(g) * conv2dOutputWidth(g);
    const gradOutput = filled(outSize, 4);
    const output = new Float32Array(outSize);
    const gradInput = new Float32Array(input.length);
    const gradWeight = new Float32Array(weight.length);
    const gradBias = new Float32Array(outChannels);
    const flops = 2 * conv2dMultiplyAdds(g);
    const shape = `${inChannels}->${outChannels} @${side}`;
    record('conv2d', shape, flops, () => backend.conv2d(g, input, weight, bias, output));
    record('conv2dBackwardInput', shape, flops, () => backend.conv2dBackwardInput(g, gradOutput, weight, gradInput));
    record('conv2dBackwardWeights', shape, flops, () => backend.conv2dBackwardWeights(g, input, gradOutput, gradWeight, gradBias));
  }

  for (const { channels, side } of RECIPE_POOLS) {
    const g = maxPool2x2(batch, channels, side);
    const inSize = batch * channels * side * side;
    const outSize = batch * channels * pool2dOutputHeight(g) * pool2dOutputWidth(g);
    const input = filled(inSize, 5);
    const output = new Float32Array(outSize);
    const argmax = new Int32Array(outSize);
    const gradOutput = filled(outSize, 6);
    const gradInput = new Float32Array(inSize);
    const shape = `${channels} @${side}`;
    record('maxPool2d', shape, inSize, () => backend.maxPool2d(g, input, output, argmax));
    record('maxPool2dBackward', shape, inSize, () => backend.maxPool2dBackward(g, gradOutput, argmax, gradInput));
  }

  {
    const { channels, side } = RECIPE_GAP;
    const inSize = batch * channels * side * side;
    const input = filled(inSize, 7);
    const output = new Float32Array(batch * channels);
    const gradInput = new Float32Array(inSize);
    const shape = `${channels} @${side}`;
    record('globalAvgPool', shape, inSize, () => backend.globalAvgPool(batch, channels, side, side, input, output));
    record('globalAvgPoolBackward', shape, inSize, () => backend.globalAvgPoolBackward(batch, channels, side, side, output, gradInput));
  }
  return rows;
}

/**
 * GFLOP/s of one conv op over the six 3x3 convs of the network (total flops / total time), by wall
 * time or, with `cpuTime`, by this process's CPU time.
 */
export function convTotalGflops(rows: readonly OpMeasurement[], op: OpName, backend: string, cpuTime = false): number {
  const picked = rows.filter((r) => r.op === op && r.backend === backend);
  const flops = picked.reduce((sum, r) => sum + r.flops, 0);
  const seconds = picked.reduce((sum, r) => sum + (cpuTime ? r.cpuSeconds : r.seconds), 0);
  return flops / seconds / 1e9;
}
