import { Rng } from '@convoy/tensor';
import {
  Conv2dGeometry,
  Pool2dGeometry,
  conv2dOutputHeight,
  conv2dOutputWidth,
  pool2dOutputHeight,
  pool2dOutputWidth,
  referenceBackend as ref,
} from '../src';
import { WASM_VARIANTS, createWasmBackend, relaxedSimdSupported, type WasmBackend } from '../src/wasm';
import { TOLERANCE, expectConvMatchesReference, randomArray, randomConvGeometry, randomConvOperands, relativeMaxError } from './parityHelpers';

// Parity of the WebAssembly backend with the plain-TS reference on random shapes drawn (fixed seed)
// from the ranges the kernels promise: batch 1-16, channels 1-130, sizes 1-33, kernels 1/3/5/7, stride 1/2,
// padding 0-3. Sizes are kept modest (a multiply-add budget per case) so the reference stays fast.
//
// Metric and random shapes: parityHelpers.ts.

const wasm = createWasmBackend();

// Every conv parity block runs on both builds of the kernels: relaxed SIMD (fused multiply-add) and
// plain SIMD. Node >= 20 runs relaxed SIMD (kernelModule.ts switches Node 20's flag on), so both
// must load here.
test('this engine runs the relaxed-SIMD build', () => {
  expect(relaxedSimdSupported()).toBe(true);
});
const builds: Array<[string, WasmBackend]> = WASM_VARIANTS.map((variant) => [variant, createWasmBackend({ variant })]);

const convCases: Conv2dGeometry[] = (() => {
  const rng = new Rng(20261125);
  const cases = Array.from({ length: 30 }, () => randomConvGeometry(rng, 3e6));
  // Edges the random draw may miss: the extremes of every range, and shapes whose sizes are not
  // multiples of the 4x8 micro-tile.
  const base = { strideHeight: 1, strideWidth: 1 };
  cases.push(
    { ...base, batch: 2, inChannels: 130, outChannels: 130, inHeight: 5, inWidth: 5, kernelHeight: 3, kernelWidth: 3, padHeight: 1, padWidth: 1 },
    { ...base, batch: 16, inChannels: 1, outChannels: 1, inHeight: 1, inWidth: 1, kernelHeight: 1, kernelWidth: 1, padHeight: 0, padWidth: 0 },
    { ...base, batch: 1, inChannels: 3, outChannels: 5, inHeight: 33, inWidth: 33, kernelHeight: 7, kernelWidth: 7, padHeight: 3, padWidth: 3 },
    { batch: 3, inChannels: 7, outChannels: 9, inHeight: 33, inWidth: 31, kernelHeight: 5, kernelWidth: 5, strideHeight: 2, strideWidth: 2, padHeight: 2, padWidth: 2 },
    { ...base, batch: 1, inChannels: 2, outChannels: 3, inHeight: 1, inWidth: 2, kernelHeight: 7, kernelWidth: 7, padHeight: 3, padWidth: 3 },
    { ...base, batch: 2, inChannels: 32, outChannels: 32, inHeight: 16, inWidth: 16, kernelHeight: 3, kernelWidth: 3, padHeight: 1, padWidth: 1 },
  );
  return cases;
})();

const describeConv = (g: Conv2dGeometry) =>
  `N${g.batch} C${g.inChannels}->${g.outChannels} ${g.inHeight}x${g.inWidth} k${g.kernelHeight} s${g.strideHeight} p${g.padHeight}`;

describe.each(builds)('wasm (%s build) conv2d matches the reference', (_variant, wasm) => {
  test.each(convCases.map((g) => [describeConv(g), g] as const))('%s', (_label, g) => {
    const rng = new Rng(g.batch * 1000003 + g.inChannels * 1009 + g.outChannels);
    const operands = randomConvOperands(g, rng);
    const withBias = rng.uniform() < 0.7;
    expectConvMatchesReference(wasm, g, operands, withBias ? operands.bias : null);
  });

  test('gradBias null leaves the weight gradient unchanged and writes no bias', () => {
    const g = convCases[convCases.length - 1];
    const rng = new Rng(5);
    const input = randomArray(g.batch * g.inChannels * g.inHeight * g.inWidth, rng);
    const gradOutput = randomArray(g.batch * g.outChannels * conv2dOutputHeight(g) * conv2dOutputWidth(g), rng);
    const withBias = new Float32Array(g.outChannels * g.inChannels * 9);
    const without = new Float32Array(withBias.length);
    wasm.conv2dBackwardWeights(g, input, gradOutput, withBias, new Float32Array(g.outChannels));
    wasm.conv2dBackwardWeights(g, input, gradOutput, without, null);
    expect(Array.from(without)).toEqual(Array.from(withBias));
  });

  test('rejects arrays shorter than the geometry needs, naming the operand and shape', () => {
    const g = convCases[0];
    const outSize = g.batch * g.outChannels * conv2dOutputHeight(g) * conv2dOutputWidth(g);
    const weight = new Float32Array(g.outChannels * g.inChannels * g.kernelHeight * g.kernelWidth);
    expect(() => wasm.conv2d(g, new Float32Array(1), weight, null, new Float32Array(outSize))).toThrow(
      /conv2d input: expected at least \d+ elements \(shape \[/,
    );
    expect(() => wasm.conv2d({ ...g, kernelHeight: 0 }, new Float32Array(1), weight, null, new Float32Array(outSize))).toThrow(
      /conv2d: /,
    );
  });
});

function countMismatches(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let mismatches = 0;
  for (let i = 0; i < expected.length; i++) if (!Object.is(actual[i], expected[i])) mismatches++;
  return mismatches;
}

function randomPoolGeometry(rng: Rng): Pool2dGeometry {
  const kernel = 1 + rng.int(3);
  const pad = rng.int(Math.floor(kernel / 2) + 1);
  const stride = 1 + rng.int(2);
  return {
    batch: 1 + rng.int(rng.uniform() < 0.5 ? 16 : 2),
    channels: 1 + rng.int(rng.uniform() < 0.5 ? 130 : 8),
    inHeight: Math.max(kernel, 1 + rng.int(33)),
    inWidth: Math.max(kernel, 1 + rng.int(33)),
    kernelHeight: kernel,
    kernelWidth: kernel,
    strideHeight: stride,
    strideWidth: stride,
    padHeight: pad,
    padWidth: pad,
  };
}

const poolCases: Pool2dGeometry[] = (() => {
  const rng = new Rng(77);
  const cases = Array.from({ length: 12 }, () => randomPoolGeometry(rng));
  cases.push({ batch: 4, channels: 32, inHeight: 32, inWidth: 32, kernelHeight: 2, kernelWidth: 2, strideHeight: 2, strideWidth: 2, padHeight: 0, padWidth: 0 });
  cases.push({ batch: 2, channels: 3, inHeight: 7, inWidth: 5, kernelHeight: 3, kernelWidth: 2, strideHeight: 2, strideWidth: 1, padHeight: 1, padWidth: 1 });
  return cases;
})();

const describePool = (g: Pool2dGeometry) =>
  `N${g.batch} C${g.channels} ${g.inHeight}x${g.inWidth} k${g.kernelHeight}x${g.kernelWidth} s${g.strideHeight}x${g.strideWidth} p${g.padHeight}x${g.padWidth}`;

describe('wasm pooling matches the reference', () => {
  test.each(poolCases.map((g) => [describePool(g), g] as const))('%s', (_label, g) => {
    const rng = new Rng(g.channels * 31 + g.inHeight);
    const inSize = g.batch * g.channels * g.inHeight * g.inWidth;
    const outSize = g.batch * g.channels * pool2dOutputHeight(g) * pool2dOutputWidth(g);
    const input = randomArray(inSize, rng);
    const gradOutput = randomArray(outSize, rng);

    const expectedOut = new Float32Array(outSize);
    const expectedArg = new Int32Array(outSize);
    const actualOut = new Float32Array(outSize);
    const actualArg = new Int32Array(outSize);
    ref.maxPool2d(g, input, expectedOut, expectedArg);
    wasm.maxPool2d(g, input, actualOut, actualArg);
    expect(countMismatches(actualOut, expectedOut)).toBe(0);
    expect(countMismatches(actualArg, expectedArg)).toBe(0);

    const expectedDx = new Float32Array(inSize);
    const actualDx = new Float32Array(inSize).fill(Number.NaN);
    ref.maxPool2dBackward(g, gradOutput, expectedArg, expectedDx);
    wasm.maxPool2dBackward(g, gradOutput, actualArg, actualDx);
    expect(relativeMaxError(actualDx, expectedDx)).toBeLessThanOrEqual(TOLERANCE);

    ref.avgPool2d(g, input, expectedOut);
    wasm.avgPool2d(g, input, actualOut);
    expect(relativeMaxError(actualOut, expectedOut)).toBeLessThanOrEqual(TOLERANCE);

    ref.avgPool2dBackward(g, gradOutput, expectedDx);
    wasm.avgPool2dBackward(g, gradOutput, actualDx.fill(Number.NaN));
    expect(relativeMaxError(actualDx, expectedDx)).toBeLessThanOrEqual(TOLERANCE);

    const planes = g.batch * g.channels;
    const expectedGap = new Float32Array(planes);
    const actualGap = new Float32Array(planes);
    ref.globalAvgPool(g.batch, g.channels, g.inHeight, g.inWidth, input, expectedGap);
    wasm.globalAvgPool(g.batch, g.channels, g.inHeight, g.inWidth, input, actualGap);
    expect(relativeMaxError(actualGap, expectedGap)).toBeLessThanOrEqual(TOLERANCE);

    const gapGrad = gradOutput.subarray(0, planes);
    ref.globalAvgPoolBackward(g.batch, g.channels, g.inHeight, g.inWidth, gapGrad, expectedDx);
    wasm.globalAvgPoolBackward(g.batch, g.channels, g.inHeight, g.inWidth, gapGrad, actualDx.fill(Number.NaN));
    expect(relativeMaxError(actualDx, expectedDx)).toBeLessThanOrEqual(TOLERANCE);
  });

  test('max pool: ties go to the first element in window order, NaN wins', () => {
    const g: Pool2dGeometry = { batch: 1, channels: 1, inHeight: 2, inWidth: 4, kernelHeight: 2, kernelWidth: 2, strideHeight: 2, strideWidth: 2, padHeight: 0, padWidth: 0 };
    const input = Float32Array.from([1, 3, 3, Number.NaN, 3, 3, 9, 2]);
    const out = new Float32Array(2);
    const arg = new Int32Array(2);
    wasm.maxPool2d(g, input, out, arg);
    expect(out[0]).toBe(3);
    expect(arg[0]).toBe(1);
    expect(Number.isNaN(out[1])).toBe(true);
    expect(arg[1]).toBe(3);
  });
});

describe('wasm 2x2 stride-2 max-pool (vectorised path)', () => {
  test('ties and NaN follow the reference in every window position, odd sizes included', () => {
    const g: Pool2dGeometry = { batch: 1, channels: 2, inHeight: 5, inWidth: 11, kernelHeight: 2, kernelWidth: 2, strideHeight: 2, strideWidth: 2, padHeight: 0, padWidth: 0 };
    const input = new Float32Array(2 * 5 * 11);
    const rng = new Rng(3);
    // Few distinct values, so many windows tie; NaN sprinkled into a, b, c and d positions.
    for (let i = 0; i < input.length; i++) input[i] = rng.int(3);
    for (const i of [1, 11, 13, 24, 36, 47, 60, 70, 71]) input[i] = Number.NaN;
    const outSize = 2 * 2 * 5;
    const expected = new Float32Array(outSize);
    const expectedArg = new Int32Array(outSize);
    const actual = new Float32Array(outSize);
    const actualArg = new Int32Array(outSize);
    ref.maxPool2d(g, input, expected, expectedArg);
    wasm.maxPool2d(g, input, actual, actualArg);
    expect(countMismatches(actual, expected)).toBe(0);
    expect(Array.from(actualArg)).toEqual(Array.from(expectedArg));
  });
});

describe.each(builds)('wasm (%s build) Winograd F(2x2, 3x3) path (forward, input and weight gradients) matches the reference', (variant, wasm) => {
  const im2col = createWasmBackend({ winograd: false, variant: variant as WasmBackend['variant'] });
  const g3 = (batch: number, inChannels: number, outChannels: number, height: number, width: number, pad: number): Conv2dGeometry => ({
    batch, inChannels, outChannels, inHeight: height, inWidth: width, kernelHeight: 3, kernelWidth: 3,
    strideHeight: 1, strideWidth: 1, padHeight: pad, padWidth: pad,
  });
  // Odd and even output sizes (partial tiles), tile rows shorter and longer than 4 tiles, channel
  // counts off the 4-row blocks, every padding the path takes, the recipe shapes.
  const cases = [
    g3(2, 8, 8, 1, 1, 1), g3(3, 9, 13, 5, 7, 1), g3(2, 16, 12, 7, 9, 0), g3(2, 12, 16, 6, 6, 2),
    g3(1, 130, 9, 9, 9, 1), g3(4, 32, 32, 16, 16, 1), g3(2, 64, 128, 8, 8, 1), g3(1, 17, 33, 33, 33, 1),
    g3(2, 8, 8, 2, 2, 2), g3(1, 10, 10, 3, 3, 0), g3(2, 11, 8, 19, 4, 1), g3(3, 9, 10, 31, 29, 1),
  ];
  test.each(cases.map((g) => [describeConv(g), g] as const))('%s', (_label, g) => {
    expect(wasm.usesWinograd(g)).toBe(true);
    expect(im2col.usesWinograd(g)).toBe(false);
    const rng = new Rng(g.inChannels * 7919 + g.inHeight);
    const operands = randomConvOperands(g, rng);
    const viaWinograd = expectConvMatchesReference(wasm, g, operands, operands.bias);
    const viaIm2col = new Float32Array(viaWinograd.length);
    im2col.conv2d(g, operands.input, operands.weight, operands.bias, viaIm2col);
    expect(relativeMaxError(viaWinograd, viaIm2col)).toBeLessThanOrEqual(TOLERANCE);
  });

  test('is not taken for strides, other kernels, asymmetric padding or thin channel counts', () => {
    const base = g3(1, 16, 16, 8, 8, 1);
    expect(wasm.usesWinograd({ ...base, strideHeight: 2, strideWidth: 2 })).toBe(false);
    expect(wasm.usesWinograd({ ...base, kernelHeight: 5, kernelWidth: 5 })).toBe(false);
    expect(wasm.usesWinograd({ ...base, padWidth: 0 })).toBe(false);
    expect(wasm.usesWinograd({ ...base, padHeight: 3, padWidth: 3 })).toBe(false);
    expect(wasm.usesWinograd({ ...base, inChannels: 3 })).toBe(false);
  });
});

describe('wasm workspace', () => {
  test('memory stops growing once the largest call has been seen', () => {
    const backend = createWasmBackend();
    const g: Conv2dGeometry = { batch: 4, inChannels: 16, outChannels: 16, inHeight: 16, inWidth: 16, kernelHeight: 3, kernelWidth: 3, strideHeight: 1, strideWidth: 1, padHeight: 1, padWidth: 1 };
    const input = new Float32Array(4 * 16 * 256).fill(0.5);
    const weight = new Float32Array(16 * 16 * 9).fill(0.25);
    const output = new Float32Array(4 * 16 * 256);
    backend.conv2d(g, input, weight, null, output);
    const after = backend.memoryBytes;
    for (let i = 0; i < 3; i++) backend.conv2d(g, input, weight, null, output);
    expect(backend.memoryBytes).toBe(after);
    // Interior output: 16 channels x 9 taps x 0.5 x 0.25.
    expect(output[17]).toBeCloseTo(18, 5);
  });
});
