import { Rng } from '@convoy/tensor';
import type { KernelBackend } from '../src/backend';
import { maskByReluOutput, reluInPlace } from '../src/epilogue';
import { referenceBackend as ref } from '../src/reference';
import { relativeMaxError } from '../src/parity';
import {
  type Conv2dGeometry, type Pool2dGeometry, type WindowGeometry, conv2dMultiplyAdds, conv2dOutputHeight, conv2dOutputWidth, pool2dOutputHeight,
  pool2dOutputWidth,
} from '../src/shapes';

export { relativeMaxError };

/**
 * What every backend's parity suite shares: random shapes (fixed seed) from the ranges the kernels promise (packages/kernels/README.md)
 * (batch 1-16, channels 1-130, sizes 1-33, kernels 1/3/5/7, stride 1/2, padding 0-3), shrunk to a
 * multiply-add budget so slow targets stay fast, the edge shapes a random draw may miss, and the
 * checks themselves.
 *
 * Metric: relativeMaxError (src/parity.ts, where the reason for it is) <= 1e-4.
 */
export const TOLERANCE = 1e-4;

export function randomArray(n: number, rng: Rng): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.uniform() * 2 - 1;
  return a;
}

function pick<T>(rng: Rng, values: readonly T[]): T {
  return values[rng.int(values.length)];
}

/** The window fields of a square kernel with the same stride and padding on both axes. */
export function squareWindow(kernel: number, stride: number, pad: number): Omit<WindowGeometry, 'inHeight' | 'inWidth'> {
  return { kernelHeight: kernel, kernelWidth: kernel, strideHeight: stride, strideWidth: stride, padHeight: pad, padWidth: pad };
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
    ...squareWindow(kernel, stride, pad),
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
    ...squareWindow(kernel, stride, pad),
  };
  while (g.batch * g.channels * g.inHeight * g.inWidth > maxElements) {
    if (g.batch > 1 && rng.uniform() < 0.5) g.batch = Math.ceil(g.batch / 2);
    else if (g.channels > 1) g.channels = Math.ceil(g.channels / 2);
    else g.batch = Math.ceil(g.batch / 2);
  }
  return g;
}

/**
 * Conv shapes the random draw may miss: the extremes of every range, and shapes whose sizes are not
 * multiples of the wasm kernels' 4x8 micro-tile.
 */
export const EDGE_CONV_CASES: readonly Conv2dGeometry[] = [
  { batch: 2, inChannels: 130, outChannels: 130, inHeight: 5, inWidth: 5, ...squareWindow(3, 1, 1) },
  { batch: 16, inChannels: 1, outChannels: 1, inHeight: 1, inWidth: 1, ...squareWindow(1, 1, 0) },
  { batch: 1, inChannels: 3, outChannels: 5, inHeight: 33, inWidth: 33, ...squareWindow(7, 1, 3) },
  { batch: 3, inChannels: 7, outChannels: 9, inHeight: 33, inWidth: 31, ...squareWindow(5, 2, 2) },
  { batch: 1, inChannels: 2, outChannels: 3, inHeight: 1, inWidth: 2, ...squareWindow(7, 1, 3) },
  { batch: 2, inChannels: 32, outChannels: 32, inHeight: 16, inWidth: 16, ...squareWindow(3, 1, 1) },
];

/** Pool shapes beside the random ones: the recipe's 2x2 max-pool, and a non-square window and stride. */
export const EDGE_POOL_CASES: readonly Pool2dGeometry[] = [
  { batch: 4, channels: 32, inHeight: 32, inWidth: 32, ...squareWindow(2, 2, 0) },
  { batch: 2, channels: 3, inHeight: 7, inWidth: 5, kernelHeight: 3, kernelWidth: 2, strideHeight: 2, strideWidth: 1, padHeight: 1, padWidth: 1 },
];

export const describeConv = (g: Conv2dGeometry): string =>
  `N${g.batch} C${g.inChannels}->${g.outChannels} ${g.inHeight}x${g.inWidth} k${g.kernelHeight} s${g.strideHeight} p${g.padHeight}`;

export const describePool = (g: Pool2dGeometry): string =>
  `N${g.batch} C${g.channels} ${g.inHeight}x${g.inWidth} k${g.kernelHeight}x${g.kernelWidth} s${g.strideHeight}x${g.strideWidth} p${g.padHeight}x${g.padWidth}`;

/** How many elements differ at all (Object.is: NaN equals NaN, -0 differs from +0). */
export function countMismatches(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let mismatches = 0;
  for (let i = 0; i < expected.length; i++) if (!Object.is(actual[i], expected[i])) mismatches++;
  return mismatches;
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

/**
 * One conv case of a backend's parity table: operands drawn from a seed made of the shape, a bias in
 * about 70% of the cases, then expectConvMatchesReference.
 */
export function expectConvCaseMatchesReference(backend: KernelBackend, g: Conv2dGeometry): void {
  const rng = new Rng(g.batch * 1000003 + g.inChannels * 1009 + g.outChannels);
  const operands = randomConvOperands(g, rng);
  const withBias = rng.uniform() < 0.7;
  expectConvMatchesReference(backend, g, operands, withBias ? operands.bias : null);
}

export interface PoolOperands {
  input: Float32Array;
  /** The pooled output's gradient, [N, C, outH, outW]. */
  gradOutput: Float32Array;
  /** Global average pooling's output gradient, [N, C]. */
  gradPlanes: Float32Array;
}

/**
 * Checks a backend's max pooling (values and argmax exactly: a max selects an input element, no
 * rounding), its backward through the backend's argmax, average pooling and global average pooling,
 * forward and backward, against the reference at TOLERANCE. Outputs start NaN-filled.
 */
export function expectPoolsMatchReference(backend: KernelBackend, g: Pool2dGeometry, { input, gradOutput, gradPlanes }: PoolOperands): void {
  const inSize = g.batch * g.channels * g.inHeight * g.inWidth;
  const outSize = g.batch * g.channels * pool2dOutputHeight(g) * pool2dOutputWidth(g);
  const expectedOut = new Float32Array(outSize);
  const expectedArg = new Int32Array(outSize);
  const actualOut = new Float32Array(outSize).fill(Number.NaN);
  const actualArg = new Int32Array(outSize).fill(-1);
  ref.maxPool2d(g, input, expectedOut, expectedArg);
  backend.maxPool2d(g, input, actualOut, actualArg);
  expect(countMismatches(actualOut, expectedOut)).toBe(0);
  expect(countMismatches(actualArg, expectedArg)).toBe(0);

  const expectedDx = new Float32Array(inSize);
  const actualDx = new Float32Array(inSize).fill(Number.NaN);
  ref.maxPool2dBackward(g, gradOutput, expectedArg, expectedDx);
  backend.maxPool2dBackward(g, gradOutput, actualArg, actualDx);
  expect(relativeMaxError(actualDx, expectedDx)).toBeLessThanOrEqual(TOLERANCE);

  ref.avgPool2d(g, input, expectedOut);
  backend.avgPool2d(g, input, actualOut.fill(Number.NaN));
  expect(relativeMaxError(actualOut, expectedOut)).toBeLessThanOrEqual(TOLERANCE);

  ref.avgPool2dBackward(g, gradOutput, expectedDx);
  backend.avgPool2dBackward(g, gradOutput, actualDx.fill(Number.NaN));
  expect(relativeMaxError(actualDx, expectedDx)).toBeLessThanOrEqual(TOLERANCE);

  const planes = g.batch * g.channels;
  const expectedGap = new Float32Array(planes);
  const actualGap = new Float32Array(planes).fill(Number.NaN);
  ref.globalAvgPool(g.batch, g.channels, g.inHeight, g.inWidth, input, expectedGap);
  backend.globalAvgPool(g.batch, g.channels, g.inHeight, g.inWidth, input, actualGap);
  expect(relativeMaxError(actualGap, expectedGap)).toBeLessThanOrEqual(TOLERANCE);

  ref.globalAvgPoolBackward(g.batch, g.channels, g.inHeight, g.inWidth, gradPlanes, expectedDx);
  backend.globalAvgPoolBackward(g.batch, g.channels, g.inHeight, g.inWidth, gradPlanes, actualDx.fill(Number.NaN));
  expect(relativeMaxError(actualDx, expectedDx)).toBeLessThanOrEqual(TOLERANCE);
}
