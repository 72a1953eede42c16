import { Rng } from '@convoy/tensor';
import type { KernelBackend } from '../src/backend';
import { maskByReluOutput, reluInPlace } from '../src/epilogue';
import { referenceBackend as ref } from '../src/reference';
import { type Conv2dGeometry, type Pool2dGeometry, conv2dMultiplyAdds, conv2dOutputHeight, conv2dOutputWidth } from '../src/shapes';

/**
 * What every backend's parity suite shares: random shapes (fixed seed) from the ranges the kernels promise (packages/kernels/README.md)
 * (batch 1-16, channels 1-130, sizes 1-33, kernels 1/3/5/7, stride 1/2, padding 0-3), shrunk to a
 * multiply-add budget so slow targets stay fast, and the error metric.
 *
 * Metric: max |got - ref| / max |ref| <= 1e-4 over the whole tensor. A float32 sum of K terms
 * carries rounding relative to the terms, not to each output (which can cancel to ~0), so an
 * element-wise relative error would fail correct kernels, and an absolute one would pass wrong
 * ones at small scales; the max-norm relative error does neither.
 */
export const TOLERANCE = 1e-4;

export function relativeMaxError(actual: Float32Array, expected: Float32Array): number {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length} vs ${expected.length}`);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    const d = Math.abs(actual[i] - expected[i]);
    // NaN must fail, and Math.max(NaN, x) keeps NaN
    diff = Number.isNaN(d) ? NaN : Math.max(diff, d);
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  return diff / Math.max(scale, 1e-30);
}

export function randomArray(n: number, rng: Rng): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.uniform() * 2 - 1;
  return a;
}

function pick<T>(rng: Rng, values: readonly T[]): T {
  return values[rng.int(values.length)];
}

export function randomConvGeometry(rng: Rng, budget: number): Conv2dGeometry {
  const kernel = pick(rng, [1, 3, 5, 7] as const);
  const stride = 1 + rng.int(2);
  const pad = rng.int(4);
  const minSize = Math.max(1, kernel - 2 * pad);
  const g: Conv2dGeometry = {
    batch: 1 + rng.int(16),
    inChannels: 1 + rng.int(130),
    outChannels: 1 + rng.int(130),
    inHeight: minSize + rng.int(34 - minSize),
    inWidth: minSize + rng.int(34 - minSize),
    kernelHeight: kernel,
    kernelWidth: kernel,
    strideHeight: stride,
    strideWidth: stride,
    padHeight: pad,
    padWidth: pad,
  };
  const shrinkable = ['batch', 'inChannels', 'outChannels'] as const;
  while (conv2dMultiplyAdds(g) > budget) {
    const key = shrinkable[rng.int(shrinkable.length)];
    if (g[key] > 1) g[key] = Math.ceil(g[key] / 2);
    else if (g.inHeight > minSize) g.inHeight = Math.max(minSize, g.inHeight >> 1);
    else if (g.inWidth > minSize) g.inWidth = Math.max(minSize, g.inWidth >> 1);
  }
  return g;
}

export function randomPoolGeometry(rng: Rng, maxElements: number): Pool2dGeometry {
  const kernel = pick(rng, [1, 2, 3, 5, 7] as const);
  const stride = 1 + rng.int(2);
  const pad = rng.int(Math.min(3, kernel >> 1) + 1);
  const minSize = Math.max(1, kernel - 2 * pad);
  const g: Pool2dGeometry = {
    batch: 1 + rng.int(16),
    channels: 1 + rng.int(130),
    inHeight: minSize + rng.int(34 - minSize),
    inWidth: minSize + rng.int(34 - minSize),
    kernelHeight: kernel,
    kernelWidth: kernel,
    strideHeight: stride,
    strideWidth: stride,
    padHeight: pad,
    padWidth: pad,
  };
  while (g.batch * g.channels * g.inHeight * g.inWidth > maxElements) {
    if (g.batch > 1 && rng.uniform() < 0.5) g.batch = Math.ceil(g.batch / 2);
    else if (g.channels > 1) g.channels = Math.ceil(g.channels / 2);
    else g.batch = Math.ceil(g.batch / 2);
  }
  return g;
}


export interface ConvOperands {
  input: Float32Array;
  weight: Float32Array;
  bias: Float32Array;
  gradOutput: Float32Array;
}

/** Random operands of one conv case, drawn in a fixed order: input, weight, bias, gradOutput. */
export function randomConvOperands(g: Conv2dGeometry, rng: Rng): ConvOperands {
  return {
    input: randomArray(g.batch * g.inChannels * g.inHeight * g.inWidth, rng),
    weight: randomArray(g.outChannels * g.inChannels * g.kernelHeight * g.kernelWidth, rng),
    bias: randomArray(g.outChannels, rng),
    gradOutput: randomArray(g.batch * g.outChannels * conv2dOutputHeight(g) * conv2dOutputWidth(g), rng),
  };
}

/**
 * Checks a backend's conv2d, conv2dBackwardInput and conv2dBackwardWeights (with the bias
 * gradient) against the reference at TOLERANCE. The backend's outputs start NaN-filled, so a
 * kernel that skips an element cannot pass on a stale zero. Returns the backend's forward output.
 */
export function expectConvMatchesReference(
  backend: KernelBackend,
  g: Conv2dGeometry,
  { input, weight, gradOutput }: ConvOperands,
  bias: Float32Array | null,
): Float32Array {
  const outSize = gradOutput.length;
  const expected = new Float32Array(outSize);
  const actual = new Float32Array(outSize).fill(Number.NaN);
  ref.conv2d(g, input, weight, bias, expected);
  backend.conv2d(g, input, weight, bias, actual);
  expect(relativeMaxError(actual, expected)).toBeLessThanOrEqual(TOLERANCE);

  const expectedDx = new Float32Array(input.length);
  const actualDx = new Float32Array(input.length).fill(Number.NaN);
  ref.conv2dBackwardInput(g, gradOutput, weight, expectedDx);
  backend.conv2dBackwardInput(g, gradOutput, weight, actualDx);
  expect(relativeMaxError(actualDx, expectedDx)).toBeLessThanOrEqual(TOLERANCE);

  const expectedDw = new Float32Array(weight.length);
  const actualDw = new Float32Array(weight.length).fill(Number.NaN);
  const expectedDb = new Float32Array(g.outChannels);
  const actualDb = new Float32Array(g.outChannels).fill(Number.NaN);
  ref.conv2dBackwardWeights(g, input, gradOutput, expectedDw, expectedDb);
  backend.conv2dBackwardWeights(g, input, gradOutput, actualDw, actualDb);
  expect(relativeMaxError(actualDw, expectedDw)).toBeLessThanOrEqual(TOLERANCE);
  expect(relativeMaxError(actualDb, expectedDb)).toBeLessThanOrEqual(TOLERANCE);

  // The fused epilogues: conv2d with a ReLU; the input gradient masked by a ReLU output (the
  // rectified input stands for the output of a ReLU before this conv).
  const rectified = new Float32Array(outSize).fill(Number.NaN);
  backend.conv2d(g, input, weight, bias, rectified, { relu: true });
  reluInPlace(expected, outSize);
  expect(relativeMaxError(rectified, expected)).toBeLessThanOrEqual(TOLERANCE);
  expect(rectified.every((v) => v >= 0 && !Object.is(v, -0))).toBe(true);
  const mask = input.slice();
  reluInPlace(mask, mask.length);
  const maskedDx = new Float32Array(input.length).fill(Number.NaN);
  backend.conv2dBackwardInput(g, gradOutput, weight, maskedDx, mask);
  maskByReluOutput(expectedDx, mask, input.length);
  expect(relativeMaxError(maskedDx, expectedDx)).toBeLessThanOrEqual(TOLERANCE);
  expect(maskedDx.every((v, i) => mask[i] !== 0 || Object.is(v, 0))).toBe(true);
  return actual;
}
