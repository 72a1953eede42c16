import { Rng } from '@convoy/tensor';
import type { KernelBackend } from '../src/backend';
import { referenceBackend as ref } from '../src/reference';
import {
  type Conv2dGeometry,
  type Pool2dGeometry,
  conv2dMultiplyAdds,
  conv2dOutputHeight,
  conv2dOutputWidth,
  pool2dOutputHeight,
  pool2dOutputWidth,
} from '../src/shapes';

/**
 * Parity of a gpu.js backend with the plain-TS reference on random shapes (fixed seed) from the
 * ranges of issue 3: batch 1-16, channels 1-130, sizes 1-33, kernels 1/3/5/7, stride 1/2,
 * padding 0-3. A multiply-add budget per case keeps the slow targets (gpu.js's CPU mode, GL on
 * Mesa's software renderer) fast: batch and channels are halved until a case fits.
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

const describeConv = (g: Conv2dGeometry) =>
  `N${g.batch} ${g.inChannels}->${g.outChannels} ${g.inHeight}x${g.inWidth} k${g.kernelHeight} s${g.strideHeight} p${g.padHeight}`;
const describePool = (g: Pool2dGeometry) =>
  `N${g.batch} C${g.channels} ${g.inHeight}x${g.inWidth} k${g.kernelHeight} s${g.strideHeight} p${g.padHeight}`;

export interface ParityPlan {
  seed: number;
  convCases: number;
  /** Multiply-adds per conv case. */
  convBudget: number;
  poolCases: number;
  /** Input elements per pool case. */
  poolElements: number;
}

/** Registers jest tests: every op of `backend()` against the reference on the plan's random shapes. */
export function defineParityTests(backend: () => KernelBackend, plan: ParityPlan): void {
  const rng = new Rng(plan.seed);
  const convCases = Array.from({ length: plan.convCases }, () => randomConvGeometry(rng, plan.convBudget));
  const poolCases = Array.from({ length: plan.poolCases }, () => randomPoolGeometry(rng, plan.poolElements));

  test.each(convCases.map((g, i) => [describeConv(g), g, plan.seed + i] as const))(
    'conv2d forward, backward input, backward weights+bias: %s',
    (_label, g, seed) => {
      const data = new Rng(seed);
      const outLength = g.batch * g.outChannels * conv2dOutputHeight(g) * conv2dOutputWidth(g);
      const inLength = g.batch * g.inChannels * g.inHeight * g.inWidth;
      const weightLength = g.outChannels * g.inChannels * g.kernelHeight * g.kernelWidth;
      const input = randomArray(inLength, data);
      const weight = randomArray(weightLength, data);
      const bias = randomArray(g.outChannels, data);
      const gradOutput = randomArray(outLength, data);
      const b = backend();

      const expected = new Float32Array(outLength);
      // NaN-filled outputs: a kernel that skips an element cannot pass on a stale zero
      const got = new Float32Array(outLength).fill(NaN);
      ref.conv2d(g, input, weight, bias, expected);
      b.conv2d(g, input, weight, bias, got);
      expect(relativeMaxError(got, expected)).toBeLessThanOrEqual(TOLERANCE);
      ref.conv2d(g, input, weight, null, expected);
      b.conv2d(g, input, weight, null, got.fill(NaN));
      expect(relativeMaxError(got, expected)).toBeLessThanOrEqual(TOLERANCE);

      const expectedGradInput = new Float32Array(inLength);
      const gotGradInput = new Float32Array(inLength).fill(NaN);
      ref.conv2dBackwardInput(g, gradOutput, weight, expectedGradInput);
      b.conv2dBackwardInput(g, gradOutput, weight, gotGradInput);
      expect(relativeMaxError(gotGradInput, expectedGradInput)).toBeLessThanOrEqual(TOLERANCE);

      const expectedGradWeight = new Float32Array(weightLength);
      const expectedGradBias = new Float32Array(g.outChannels);
      const gotGradWeight = new Float32Array(weightLength).fill(NaN);
      const gotGradBias = new Float32Array(g.outChannels).fill(NaN);
      ref.conv2dBackwardWeights(g, input, gradOutput, expectedGradWeight, expectedGradBias);
      b.conv2dBackwardWeights(g, input, gradOutput, gotGradWeight, gotGradBias);
      expect(relativeMaxError(gotGradWeight, expectedGradWeight)).toBeLessThanOrEqual(TOLERANCE);
      expect(relativeMaxError(gotGradBias, expectedGradBias)).toBeLessThanOrEqual(TOLERANCE);
    },
  );

  test.each(poolCases.map((g, i) => [describePool(g), g, plan.seed + 1000 + i] as const))(
    'max/avg/global pooling forward and backward: %s',
    (_label, g, seed) => {
      const data = new Rng(seed);
      const outLength = g.batch * g.channels * pool2dOutputHeight(g) * pool2dOutputWidth(g);
      const inLength = g.batch * g.channels * g.inHeight * g.inWidth;
      const input = randomArray(inLength, data);
      const gradOutput = randomArray(outLength, data);
      const b = backend();

      const expectedMax = new Float32Array(outLength);
      const expectedArgmax = new Int32Array(outLength);
      const gotMax = new Float32Array(outLength).fill(NaN);
      const gotArgmax = new Int32Array(outLength).fill(-7);
      ref.maxPool2d(g, input, expectedMax, expectedArgmax);
      b.maxPool2d(g, input, gotMax, gotArgmax);
      // a max selects an input element: exact, no rounding involved
      expect(gotMax).toEqual(expectedMax);
      expect(gotArgmax).toEqual(expectedArgmax);

      const expectedMaxGrad = new Float32Array(inLength);
      const gotMaxGrad = new Float32Array(inLength).fill(NaN);
      ref.maxPool2dBackward(g, gradOutput, expectedArgmax, expectedMaxGrad);
      b.maxPool2dBackward(g, gradOutput, expectedArgmax, gotMaxGrad);
      expect(relativeMaxError(gotMaxGrad, expectedMaxGrad)).toBeLessThanOrEqual(TOLERANCE);

      const expectedAvg = new Float32Array(outLength);
      const gotAvg = new Float32Array(outLength).fill(NaN);
      ref.avgPool2d(g, input, expectedAvg);
      b.avgPool2d(g, input, gotAvg);
      expect(relativeMaxError(gotAvg, expectedAvg)).toBeLessThanOrEqual(TOLERANCE);

      const expectedAvgGrad = new Float32Array(inLength);
      const gotAvgGrad = new Float32Array(inLength).fill(NaN);
      ref.avgPool2dBackward(g, gradOutput, expectedAvgGrad);
      b.avgPool2dBackward(g, gradOutput, gotAvgGrad);
      expect(relativeMaxError(gotAvgGrad, expectedAvgGrad)).toBeLessThanOrEqual(TOLERANCE);

      const planes = g.batch * g.channels;
      const gradPlanes = randomArray(planes, data);
      const expectedGlobal = new Float32Array(planes);
      const gotGlobal = new Float32Array(planes).fill(NaN);
      ref.globalAvgPool(g.batch, g.channels, g.inHeight, g.inWidth, input, expectedGlobal);
      b.globalAvgPool(g.batch, g.channels, g.inHeight, g.inWidth, input, gotGlobal);
      expect(relativeMaxError(gotGlobal, expectedGlobal)).toBeLessThanOrEqual(TOLERANCE);
      const expectedGlobalGrad = new Float32Array(inLength);
      const gotGlobalGrad = new Float32Array(inLength).fill(NaN);
      ref.globalAvgPoolBackward(g.batch, g.channels, g.inHeight, g.inWidth, gradPlanes, expectedGlobalGrad);
      b.globalAvgPoolBackward(g.batch, g.channels, g.inHeight, g.inWidth, gradPlanes, gotGlobalGrad);
      expect(relativeMaxError(gotGlobalGrad, expectedGlobalGrad)).toBeLessThanOrEqual(TOLERANCE);
    },
  );
}
