import { Rng } from '@convoy/tensor';
import { Conv2dGeometry, Pool2dGeometry, conv2dOutputHeight, conv2dOutputWidth, pool2dOutputHeight, pool2dOutputWidth, referenceBackend as ref } from '../src';
import { WASM_VARIANTS, createWasmBackend, relaxedSimdSupported, type WasmBackend } from '../src/wasm';
import {
  EDGE_CONV_CASES, EDGE_POOL_CASES, TOLERANCE, countMismatches, describeConv, describePool, expectConvCaseMatchesReference,
  expectConvMatchesReference, expectPoolsMatchReference, randomArray, randomConvGeometry, randomConvOperands, relativeMaxError, squareWindow,
} from './parityHelpers';

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
  return [...Array.from({ length: 30 }, () => randomConvGeometry(rng, 3e6)), ...EDGE_CONV_CASES];
})();

describe.each(builds)('wasm (%s build) conv2d matches the reference', (_variant, wasm) => {
  test.each(convCases.map((g) => [describeConv(g), g] as const))('%s', (_label, g) => expectConvCaseMatchesReference(wasm, g));

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

function randomPoolGeometry(rng: Rng): Pool2dGeometry {
  const kernel = 1 + rng.int(3);
  const pad = rng.int(Math.floor(kernel / 2) + 1);
  const stride = 1 + rng.int(2);
  return {
    batch: 1 + rng.int(rng.uniform() < 0.5 ? 16 : 2),
    channels: 1 + rng.int(rng.uniform() < 0.5 ? 130 : 8),
    inHeight: Math.max(kernel, 1 + rng.int(33)),
    inWidth: Math.max(kernel, 1 + rng.int(33)),
    ...squareWindow(kernel, stride, pad),
  };
}

const poolCases: Pool2dGeometry[] = (() => {
  const rng = new Rng(77);
  return [...Array.from({ length: 12 }, () => randomPoolGeometry(rng)), ...EDGE_POOL_CASES];
})();

describe('wasm pooling matches the reference', () => {
  test.each(poolCases.map((g) => [describePool(g), g] as const))('%s', (_label, g) => {
    const rng = new Rng(g.channels * 31 + g.inHeight);
    const input = randomArray(g.batch * g.channels * g.inHeight * g.inWidth, rng);
    const gradOutput = randomArray(g.batch * g.channels * pool2dOutputHeight(g) * pool2dOutputWidth(g), rng);
    expectPoolsMatchReference(wasm, g, { input, gradOutput, gradPlanes: gradOutput.subarray(0, g.batch * g.channels) });
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

describe('wasm resident arrays (allocate)', () => {
  const RESERVED = 96 << 20;
  const g: Conv2dGeometry = { batch: 2, inChannels: 8, outChannels: 12, inHeight: 9, inWidth: 9, ...squareWindow(3, 1, 1) };

  /** A copy of `source` in `backend`'s memory. */
  function resident(backend: WasmBackend, source: Float32Array): Float32Array {
    const array = backend.allocate(source.length) as Float32Array;
    array.set(source);
    return array;
  }

  test('without a reservation there are none: allocate gives null', () => {
    expect(createWasmBackend().allocate(16)).toBeNull();
  });

  test('arrays lie in the instance memory, zero-filled, and run out as null', () => {
    const backend = createWasmBackend({ residentBytes: RESERVED });
    const a = backend.allocate(1000) as Float32Array;
    const b = backend.allocate(1000) as Float32Array;
    expect(a.every((v) => v === 0) && b.every((v) => v === 0)).toBe(true);
    expect(a.buffer).toBe(b.buffer);
    expect(Math.abs(a.byteOffset - b.byteOffset)).toBeGreaterThanOrEqual(4000);
    // the reservation keeps room below for the per-call workspaces, so not all of it can be had
    expect(backend.allocate(RESERVED / 4)).toBeNull();
    expect(backend.holds(a, null, b.subarray(10))).toBe(true);
    expect(backend.holds(a, new Float32Array(4))).toBe(false);
  });

  test('memory never grows past the reservation: a call that does not fit below the arrays is refused', () => {
    const backend = createWasmBackend({ residentBytes: RESERVED });
    while (backend.allocate(1 << 20) !== null);
    const planeSize = 17 << 20;
    const g = { batch: 1, channels: 1, planeSize, groupSize: 1 };
    const x = new Float32Array(planeSize);
    expect(() => backend.batchNormForward(g, x, null, null, 1e-5, new Float32Array(1), new Float32Array(1), new Float32Array(planeSize), true)).toThrow(
      /needs \d+ bytes of workspace, but resident arrays hold memory above \d+/,
    );
  });

  test('convolutions, pools and BatchNorm give the same bits on resident arrays as on copied ones', () => {
    const backend = createWasmBackend({ residentBytes: RESERVED });
    const rng = new Rng(41);
    const { input, weight, bias, gradOutput } = randomConvOperands(g, rng);
    const outSize = gradOutput.length;
    const bnGrad = randomArray(outSize, rng);
    const gamma = randomArray(g.outChannels, rng);
    const plain = (n: number) => new Float32Array(n);
    const inMemory = (n: number) => backend.allocate(n) as Float32Array;
    const runs = [
      { make: plain, x: input, dy: gradOutput, bnDy: bnGrad },
      { make: inMemory, x: resident(backend, input), dy: resident(backend, gradOutput), bnDy: resident(backend, bnGrad) },
    ].map(({ make, x, dy, bnDy }) => {
      const out = make(outSize);
      const dx = make(input.length);
      backend.conv2d(g, x, weight, bias, out, { relu: true });
      backend.conv2dBackwardInput(g, dy, weight, dx, x);
      const dw = plain(weight.length);
      backend.conv2dBackwardWeights(g, x, dy, dw, null);
      const pg: Pool2dGeometry = { batch: g.batch, channels: g.inChannels, inHeight: 9, inWidth: 9, ...squareWindow(2, 2, 0) };
      const pooled = make(g.batch * g.inChannels * 16);
      backend.maxPool2d(pg, x, pooled, new Int32Array(pooled.length));
      const bn = { batch: g.batch, channels: g.outChannels, planeSize: outSize / (g.batch * g.outChannels), groupSize: 1 };
      const mean = plain(2 * g.outChannels);
      const variance = plain(2 * g.outChannels);
      const normalised = make(outSize);
      backend.batchNormForward(bn, dy, gamma, bias, 1e-5, mean, variance, normalised, true, { relu: true });
      const bnDx = make(outSize);
      const dGamma = plain(g.outChannels);
      const dBeta = plain(g.outChannels);
      backend.batchNormBackward(bn, dy, bnDy, normalised, gamma, 1e-5, mean, variance, true, bnDx, dGamma, dBeta);
      return { out, dx, dw, pooled, mean, variance, normalised, bnDx, dGamma, dBeta };
    });
    expect(runs[1].out.buffer).not.toBe(runs[0].out.buffer);
    for (const key of Object.keys(runs[0]) as (keyof (typeof runs)[0])[]) {
      expect(countMismatches(runs[1][key], runs[0][key])).toBe(0);
    }
    const expected = new Float32Array(outSize);
    ref.conv2d(g, input, weight, bias, expected, { relu: true });
    expect(relativeMaxError(runs[0].out, expected)).toBeLessThanOrEqual(TOLERANCE);
  });
});
