import { Rng } from '@convoy/tensor';
import { TOLERANCE, expectConvMatchesReference, randomArray, randomConvGeometry, randomConvOperands, randomPoolGeometry, relativeMaxError } from './parityHelpers';
import type { KernelBackend } from '../src/backend';
import { referenceBackend as ref } from '../src/reference';
import {
  type Conv2dGeometry,
  type Pool2dGeometry,
  pool2dOutputHeight,
  pool2dOutputWidth,
} from '../src/shapes';

/**
 * Parity of a gpu.js backend with the plain-TS reference on random shapes (see parityHelpers.ts).
 * A multiply-add budget per case keeps the slow targets (gpu.js's CPU mode, GL on Mesa's software
 * renderer) fast: batch and channels are halved until a case fits.
 */
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
      const operands = randomConvOperands(g, data);
      const b = backend();
      expectConvMatchesReference(b, g, operands, operands.bias);
      // and without a bias
      const expected = new Float32Array(operands.gradOutput.length);
      const got = new Float32Array(operands.gradOutput.length).fill(NaN);
      ref.conv2d(g, operands.input, operands.weight, null, expected);
      b.conv2d(g, operands.input, operands.weight, null, got);
      expect(relativeMaxError(got, expected)).toBeLessThanOrEqual(TOLERANCE);
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
