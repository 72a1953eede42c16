import { Rng } from '@convoy/tensor';
import {
  TOLERANCE, describeConv, describePool, expectConvMatchesReference, expectPoolsMatchReference, randomArray, randomConvGeometry, randomConvOperands,
  randomPoolGeometry, relativeMaxError,
} from './parityHelpers';
import type { KernelBackend } from '../src/backend';
import { type GpuJsBackend, type GpuJsMode, createGpuJsBackend } from '../src/gpujs';
import { referenceBackend as ref } from '../src/reference';
import { pool2dOutputHeight, pool2dOutputWidth } from '../src/shapes';

/**
 * Parity of a gpu.js backend with the plain-TS reference on random shapes (see parityHelpers.ts).
 * A multiply-add budget per case keeps the slow targets (gpu.js's CPU mode, GL on Mesa's software
 * renderer) fast: batch and channels are halved until a case fits.
 */

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
      const input = randomArray(g.batch * g.channels * g.inHeight * g.inWidth, data);
      const gradOutput = randomArray(g.batch * g.channels * pool2dOutputHeight(g) * pool2dOutputWidth(g), data);
      const gradPlanes = randomArray(g.batch * g.channels, data);
      expectPoolsMatchReference(backend(), g, { input, gradOutput, gradPlanes });
    },
  );
}

/** A backend in `mode` for the enclosing describe block: created before its tests, disposed after them. */
export function gpuJsBackendForBlock(mode: GpuJsMode): () => GpuJsBackend {
  let backend: GpuJsBackend | null = null;
  beforeAll(() => {
    backend = createGpuJsBackend({ mode });
  });
  afterAll(() => backend?.dispose());
  return () => {
    if (!backend) throw new Error(`the ${mode} backend is made in beforeAll; call this inside a test`);
    return backend;
  };
}

/**
 * Registers a test that the block compiled more than `moreThan` kernels and every one ran in
 * `mode`: gpu.js falls back to another target without saying so.
 */
export function defineRanInModeTest(backend: () => GpuJsBackend, mode: string, moreThan: number): void {
  test(`every kernel ran in ${mode}, none fell back to another gpu.js target`, () => {
    const modes = Object.values(backend().kernelModes());
    expect(modes.length).toBeGreaterThan(moreThan);
    expect(new Set(modes)).toEqual(new Set([mode]));
  });
}
