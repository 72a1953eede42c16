import { execFileSync } from 'node:child_process';
import { Rng } from '@convoy/tensor';
import { type BatchNormGeometry, type Conv2dGeometry, type Pool2dGeometry, pool2dOutputHeight, pool2dOutputWidth, referenceBackend as ref } from '@convoy/kernels';
import { NativeBackend, createNativeBackend, selectNativeBackend } from '../src';
import {
  EDGE_CONV_CASES, EDGE_POOL_CASES, TOLERANCE, describeConv, describePool, expectConvCaseMatchesReference, expectPoolsMatchReference, randomArray,
  randomConvGeometry, randomConvOperands, randomPoolGeometry, relativeMaxError, squareWindow,
} from '../../kernels/test/parityHelpers';

// Parity of the oneDNN backend with the plain-TS reference, on the random shapes (fixed seeds) and
// edges the wasm suite draws (packages/kernels/test/parityHelpers.ts: metric, ranges).

// Without oneDNN the suite says so and is skipped, unless CONVOY_NATIVE_TESTS=1 (CI) makes that a failure.
const selection = selectNativeBackend();
if (!selection.backend && process.env.CONVOY_NATIVE_TESTS === '1') throw new Error(`CONVOY_NATIVE_TESTS=1 but ${selection.reason}`);
if (!selection.backend) console.warn(`native parity suites skipped: ${selection.reason}`);
const native = selection.backend as NativeBackend;
const describeNative = selection.backend ? describe : describe.skip;

const convCases: Conv2dGeometry[] = (() => {
  const rng = new Rng(20261125);
  return [
    ...Array.from({ length: 30 }, () => randomConvGeometry(rng, 3e6)),
    ...EDGE_CONV_CASES,
    // stride 2 whose last window is cut (oneDNN's right padding comes out negative)
    { batch: 2, inChannels: 3, outChannels: 4, inHeight: 2, inWidth: 6, ...squareWindow(1, 2, 0) },
  ];
})();

// Both layouts: oneDNN's blocked formats with reorders around them (the default) and plain NCHW.
// (Without oneDNN one placeholder row: jest refuses an empty table even in a skipped block.)
const layouts = (['blocked', 'plain'] as const).map((layout) => [layout, selection.backend ? createNativeBackend({ layout }) : native] as const);
describeNative.each(layouts)('native conv2d (%s layout) matches the reference', (_layout, backend) => {
  test.each(convCases.map((g) => [describeConv(g), g] as const))('%s', (_label, g) => expectConvCaseMatchesReference(backend, g));
});

const poolCases: Pool2dGeometry[] = (() => {
  const rng = new Rng(77);
  return [
    ...Array.from({ length: 16 }, () => randomPoolGeometry(rng, 2e5)),
    ...EDGE_POOL_CASES,
    { batch: 2, channels: 64, inHeight: 112, inWidth: 112, ...squareWindow(3, 2, 1) },
  ];
})();

describeNative('native pooling matches the reference', () => {
  test.each(poolCases.map((g) => [describePool(g), g] as const))('%s', (_label, g) => {
    const rng = new Rng(g.channels * 31 + g.inHeight);
    const input = randomArray(g.batch * g.channels * g.inHeight * g.inWidth, rng);
    // ties inside windows: a third of the values rounded to a few levels
    for (let i = 0; i < input.length; i += 3) input[i] = Math.round(input[i] * 2) / 2;
    const gradOutput = randomArray(g.batch * g.channels * pool2dOutputHeight(g) * pool2dOutputWidth(g), rng);
    expectPoolsMatchReference(native, g, { input, gradOutput, gradPlanes: gradOutput.subarray(0, g.batch * g.channels) });
  });

  test('max pool: ties go to the first element in window order', () => {
    const g: Pool2dGeometry = { batch: 1, channels: 1, inHeight: 2, inWidth: 4, kernelHeight: 2, kernelWidth: 2, strideHeight: 2, strideWidth: 2, padHeight: 0, padWidth: 0 };
    const input = Float32Array.from([1, 3, 3, 7, 3, 3, 9, 9]);
    const out = new Float32Array(2);
    const arg = new Int32Array(2);
    native.maxPool2d(g, input, out, arg);
    expect(Array.from(out)).toEqual([3, 9]);
    expect(Array.from(arg)).toEqual([1, 6]);
  });
});

describeNative('native batch norm matches the reference', () => {
  // Ghost groups that divide the batch, leave a shorter last group, are one image or the whole batch
  // (or more); one to many channels; planes of one pixel, odd and even sides.
  const cases: BatchNormGeometry[] = [
    { batch: 8, channels: 5, planeSize: 49, groupSize: 3 },
    { batch: 32, channels: 16, planeSize: 64, groupSize: 32 },
    { batch: 4, channels: 3, planeSize: 1, groupSize: 4 },
    { batch: 6, channels: 1, planeSize: 225, groupSize: 1 },
    { batch: 5, channels: 7, planeSize: 13, groupSize: 8 },
    { batch: 10, channels: 64, planeSize: 9, groupSize: 4 },
    { batch: 3, channels: 32, planeSize: 1024, groupSize: 2 },
  ];
  const variants = [
    { relu: true, affine: true, offset: 0 },
    { relu: false, affine: true, offset: 0 },
    { relu: true, affine: false, offset: 0 },
    // a large mean: the variance must not come from cancelling sums
    { relu: false, affine: true, offset: 100 },
  ];
  const table = cases.flatMap((g) => variants.flatMap((v) => [true, false].map((training) => [`${training ? 'training' : 'eval'} ${JSON.stringify(g)} ${JSON.stringify(v)}`, g, v, training] as const)));
  test.each(table)('%s', (_label, g, { relu, affine, offset }, training) => {
    const rng = new Rng(g.channels * 7 + g.planeSize + g.groupSize);
    const size = g.batch * g.channels * g.planeSize;
    const stats = (training ? Math.ceil(g.batch / g.groupSize) : 1) * g.channels;
    const x = randomArray(size, rng).map((v) => v + offset);
    const dy = randomArray(size, rng);
    const weight = affine ? randomArray(g.channels, rng) : null;
    const bias = affine ? randomArray(g.channels, rng) : null;
    const given = randomArray(2 * stats, rng).map((v) => v * v + 0.5);
    // the native backend twice: on ordinary arrays (copied into the wasm kernels) and on its own (used in place)
    const runs = [{ backend: ref, own: false }, { backend: native, own: false }, { backend: native, own: true }];
    const results = runs.map(({ backend, own }) => {
      const array = (source: Float32Array) => {
        const made = own ? (native.allocate(source.length) as Float32Array) : new Float32Array(source.length);
        made.set(source);
        return made;
      };
      const mean = given.slice(0, stats).map((v) => v + offset);
      const variance = given.slice(stats);
      const out = array(new Float32Array(size).fill(Number.NaN));
      const input = array(x);
      if (own) expect(out.buffer).toBe(input.buffer);
      backend.batchNormForward(g, input, weight, bias, 1e-5, mean, variance, out, training, { relu });
      const dx = array(new Float32Array(size).fill(Number.NaN));
      const dw = new Float32Array(g.channels).fill(Number.NaN);
      const db = new Float32Array(g.channels).fill(Number.NaN);
      backend.batchNormBackward(g, input, array(dy), relu ? out : null, weight, 1e-5, mean, variance, training, dx, dw, db);
      return { out, mean, variance, dx, dw, db };
    });
    for (const key of ['out', 'mean', 'variance', 'dx', 'dw', 'db'] as const) {
      expect(relativeMaxError(results[1][key], results[0][key])).toBeLessThanOrEqual(TOLERANCE);
      expect(Array.from(results[2][key])).toEqual(Array.from(results[1][key]));
    }
    if (relu) expect(results[1].out.every((v) => v >= 0 && !Object.is(v, -0))).toBe(true);
  });

  test('a ghost group gives the same numbers whatever else the call holds (1 thread = N threads)', () => {
    const g: BatchNormGeometry = { batch: 12, channels: 6, planeSize: 25, groupSize: 4 };
    const rng = new Rng(12);
    const planes = g.channels * g.planeSize;
    const x = randomArray(g.batch * planes, rng);
    const dy = randomArray(g.batch * planes, rng);
    const weight = randomArray(g.channels, rng);
    const bias = randomArray(g.channels, rng);
    const whole = { out: new Float32Array(x.length), mean: new Float32Array(3 * g.channels), variance: new Float32Array(3 * g.channels), dx: new Float32Array(x.length) };
    native.batchNormForward(g, x, weight, bias, 1e-5, whole.mean, whole.variance, whole.out, true, { relu: true });
    native.batchNormBackward(g, x, dy, whole.out, weight, 1e-5, whole.mean, whole.variance, true, whole.dx, null, null);
    // the middle group alone, as a thread holding only it would run it
    const part = { batch: 4, from: 4 * planes, to: 8 * planes };
    const out = new Float32Array(part.to - part.from);
    const mean = new Float32Array(g.channels);
    const variance = new Float32Array(g.channels);
    const dx = new Float32Array(out.length);
    native.batchNormForward({ ...g, batch: part.batch }, x.slice(part.from, part.to), weight, bias, 1e-5, mean, variance, out, true, { relu: true });
    native.batchNormBackward({ ...g, batch: part.batch }, x.slice(part.from, part.to), dy.slice(part.from, part.to), out, weight, 1e-5, mean, variance, true, dx, null, null);
    expect(Array.from(out)).toEqual(Array.from(whole.out.subarray(part.from, part.to)));
    expect(Array.from(mean)).toEqual(Array.from(whole.mean.subarray(g.channels, 2 * g.channels)));
    expect(Array.from(variance)).toEqual(Array.from(whole.variance.subarray(g.channels, 2 * g.channels)));
    expect(Array.from(dx)).toEqual(Array.from(whole.dx.subarray(part.from, part.to)));
  });

  test('a call on arrays partly its own and partly not gives the same bits as on ordinary ones', () => {
    const g: BatchNormGeometry = { batch: 6, channels: 4, planeSize: 36, groupSize: 3 };
    const rng = new Rng(6);
    const size = g.batch * g.channels * g.planeSize;
    const x = randomArray(size, rng);
    const dy = randomArray(size, rng);
    const own = (source: Float32Array) => {
      const made = native.allocate(source.length) as Float32Array;
      made.set(source);
      return made;
    };
    const results = [false, true].map((mixed) => {
      const out = mixed ? (native.allocate(size) as Float32Array) : new Float32Array(size);
      const dx = new Float32Array(size);
      const mean = new Float32Array(2 * g.channels);
      const variance = new Float32Array(2 * g.channels);
      native.batchNormForward(g, mixed ? own(x) : x, null, null, 1e-5, mean, variance, out, true, { relu: true });
      native.batchNormBackward(g, x, mixed ? own(dy) : dy, out, null, 1e-5, mean, variance, true, dx, null, null);
      return [out, mean, variance, dx].map((a) => Array.from(a));
    });
    expect(results[1]).toEqual(results[0]);
  });

  test('arrays shorter than the geometry are refused, not overrun', () => {
    const g: BatchNormGeometry = { batch: 4, channels: 3, planeSize: 4, groupSize: 2 };
    const size = 4 * 3 * 4;
    const f = (n: number) => new Float32Array(n);
    expect(() => native.batchNormForward(g, f(size), null, null, 1e-5, f(3), f(6), f(size), true)).toThrow(/batchNormForward mean: expected at least 6 elements \(shape \[2, 3\]\), got 3/);
    expect(() => native.batchNormForward(g, f(size - 1), null, null, 1e-5, f(6), f(6), f(size), true)).toThrow(/batchNormForward input: expected at least 48/);
    expect(() => native.batchNormBackward(g, f(size), f(size), null, f(2), 1e-5, f(6), f(6), true, f(size), null, null)).toThrow(/batchNormBackward weight: expected at least 3/);
  });
});

describeNative('buffers', () => {
  test('arrays on SharedArrayBuffers and views at an offset are read and written in place', () => {
    const g = convCases[convCases.length - 2];
    const rng = new Rng(3);
    const { input, weight, bias } = randomConvOperands(g, rng);
    const expected = new Float32Array(g.batch * g.outChannels * g.inHeight * g.inWidth);
    ref.conv2d(g, input, weight, bias, expected, { relu: true });
    const shared = new Float32Array(new SharedArrayBuffer(4 * (input.length + expected.length + 8)));
    const sharedInput = shared.subarray(3, 3 + input.length);
    sharedInput.set(input);
    const sharedOutput = shared.subarray(5 + input.length, 5 + input.length + expected.length);
    native.conv2d(g, sharedInput, weight, bias, sharedOutput, { relu: true });
    expect(relativeMaxError(sharedOutput, expected)).toBeLessThanOrEqual(TOLERANCE);
    expect(shared[4 + input.length]).toBe(0);
    expect(shared[5 + input.length + expected.length]).toBe(0);
  });

  test("arrays the backend allocates (in its wasm kernels' memory) serve oneDNN's convolutions as any array", () => {
    const g = convCases[convCases.length - 2];
    const { input, weight, bias, gradOutput } = randomConvOperands(g, new Rng(5));
    const runs = [false, true].map((own) => {
      const array = (n: number) => (own ? (native.allocate(n) as Float32Array) : new Float32Array(n));
      const x = array(input.length);
      x.set(input);
      const dy = array(gradOutput.length);
      dy.set(gradOutput);
      const out = array(gradOutput.length);
      const dx = array(input.length);
      native.conv2d(g, x, weight, bias, out, { relu: true });
      native.conv2dBackwardInput(g, dy, weight, dx, x);
      return { out, dx, own: out.buffer === x.buffer };
    });
    expect(runs.map((r) => r.own)).toEqual([false, true]);
    expect(Array.from(runs[1].out)).toEqual(Array.from(runs[0].out));
    expect(Array.from(runs[1].dx)).toEqual(Array.from(runs[0].dx));
  });

  test('one primitive per op and shape, reused', () => {
    const g = convCases[0];
    const { input, weight, bias, gradOutput } = randomConvOperands(g, new Rng(9));
    native.conv2d(g, input, weight, bias, gradOutput);
    const before = Object.keys(native.implementations()).length;
    native.conv2d(g, input, weight, bias, gradOutput);
    expect(Object.keys(native.implementations()).length).toBe(before);
  });
});

describeNative('reordered arguments', () => {
  // Shapes whose blocked layouts differ from NCHW, so the conv primitives reorder their arguments;
  // expectConvCaseMatchesReference runs the forward and both backward passes.
  const shape = (batch: number, channels: number, side: number): Conv2dGeometry => ({ batch, inChannels: channels, outChannels: 2 * channels, inHeight: side, inWidth: side, ...squareWindow(3, 1, 1) });
  const large = shape(4, 16, 24);
  const smaller = [shape(2, 16, 24), shape(4, 16, 12), shape(1, 32, 8)];

  test('share one scratch: it holds the largest call, not the sum over every shape, and a primitive made before it grew still matches', () => {
    const alone = createNativeBackend({ layout: 'blocked' });
    expectConvCaseMatchesReference(alone, large);
    const largest = alone.reorderScratchFloats;
    expect(largest).toBeGreaterThan(0);

    const each = smaller.map((g) => {
      const backend = createNativeBackend({ layout: 'blocked' });
      expectConvCaseMatchesReference(backend, g);
      return backend.reorderScratchFloats;
    });
    const backend = createNativeBackend({ layout: 'blocked' });
    expectConvCaseMatchesReference(backend, smaller[0]);
    expectConvCaseMatchesReference(backend, large);
    for (const g of smaller) expectConvCaseMatchesReference(backend, g);
    expect(backend.reorderScratchFloats).toBe(largest);
    expect(backend.reorderScratchFloats).toBeLessThan(largest + each.reduce((a, b) => a + b, 0));
    for (const b of [alone, backend]) b.dispose();
  });
});

describeNative('selection', () => {
  test('with the parity check, the backend agrees with the reference on the recipe shapes and says on which library', () => {
    const checked = selectNativeBackend({ checkParity: true });
    expect(checked.reason).toMatch(/^native\b.*\boneDNN 2\.\d+\.\d+ \(.+\).*\bparity\b/);
    expect(checked.backend?.name).toBe('native');
  });

  test('a library that is not oneDNN is refused with a one-line reason', () => {
    // loadDnnl remembers its first answer per process, so this runs in a fresh one.
    const script = "const { selectNativeBackend } = require('@convoy/native'); console.log(selectNativeBackend().reason)";
    const run = (lib: string) => execFileSync(process.execPath, ['-e', script], { env: { ...process.env, CONVOY_DNNL: lib }, encoding: 'utf8' }).trim();
    expect(run('/nonexistent/libdnnl.so.2')).toMatch(/^oneDNN\b.*\/nonexistent\/libdnnl\.so\.2\b.*\boneDNN 2\.x\b.*\bCONVOY_DNNL\b/);
    expect(run('libm.so.6')).toMatch(/^oneDNN could not be bound: .*dnnl_version/);
  });
});

describeNative('bf16 precision (an option)', () => {
  const bf16 = selectNativeBackend({ precision: 'bf16' });
  const relativeToReference = (g: Conv2dGeometry) => {
    const rng = new Rng(7);
    const x = randomArray(g.batch * g.inChannels * g.inHeight * g.inWidth, rng);
    const w = randomArray(g.outChannels * g.inChannels * g.kernelHeight * g.kernelWidth, rng);
    const b = randomArray(g.outChannels, rng);
    const outSize = g.batch * g.outChannels * g.inHeight * g.inWidth;
    const [ours, theirs] = [new Float32Array(outSize), new Float32Array(outSize)];
    (bf16.backend as NativeBackend).conv2d(g, x, w, b, ours);
    ref.conv2d(g, x, w, b, theirs);
    const gy = randomArray(outSize, rng);
    const [gwOurs, gwTheirs, gbOurs, gbTheirs] = [new Float32Array(w.length), new Float32Array(w.length), new Float32Array(b.length), new Float32Array(b.length)];
    (bf16.backend as NativeBackend).conv2dBackwardWeights(g, x, gy, gwOurs, gbOurs);
    ref.conv2dBackwardWeights(g, x, gy, gwTheirs, gbTheirs);
    const [giOurs, giTheirs] = [new Float32Array(x.length), new Float32Array(x.length)];
    (bf16.backend as NativeBackend).conv2dBackwardInput(g, gy, w, giOurs);
    ref.conv2dBackwardInput(g, gy, w, giTheirs);
    return { forward: relativeMaxError(ours, theirs), weights: relativeMaxError(gwOurs, gwTheirs), input: relativeMaxError(giOurs, giTheirs) };
  };
  const same = { batch: 4, kernelHeight: 3, kernelWidth: 3, strideHeight: 1, strideWidth: 1, padHeight: 1, padWidth: 1 };

  test('names itself and its precision', () => {
    expect(bf16.backend?.name).toBe('native:bf16');
    expect(bf16.reason).toMatch(/bf16 convolutions \(float32 weights and accumulation\)$/);
  });

  test('convolutions with 16 or more input channels read bfloat16: within its rounding of the reference, not float32 exact', () => {
    const errors = relativeToReference({ ...same, inChannels: 32, outChannels: 16, inHeight: 8, inWidth: 8 });
    for (const e of Object.values(errors)) {
      expect(e).toBeLessThan(2e-2);
      expect(e).toBeGreaterThan(TOLERANCE);
    }
    expect(Object.values((bf16.backend as NativeBackend).implementations()).some((name) => /bf16/.test(name))).toBe(true);
  });

  test('a first conv (3 input channels) stays float32', () => {
    const errors = relativeToReference({ ...same, inChannels: 3, outChannels: 8, inHeight: 8, inWidth: 8 });
    for (const e of Object.values(errors)) expect(e).toBeLessThan(TOLERANCE);
  });
});
