import { referenceBackend as ref, Conv2dGeometry, Pool2dGeometry } from '../src';

// The oracle is checked two independent ways: against hand-computed values, and its backward
// passes against central finite differences of its forward pass (in float64 sums of float32 data).

function geometry(partial: Partial<Conv2dGeometry>): Conv2dGeometry {
  return {
    batch: 1, inChannels: 1, inHeight: 3, inWidth: 3, outChannels: 1, kernelHeight: 3, kernelWidth: 3,
    strideHeight: 1, strideWidth: 1, padHeight: 0, padWidth: 0, ...partial,
  };
}

function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296 - 0.5;
  };
}

function randomArray(n: number, rand: () => number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rand();
  return a;
}

describe('reference conv2d', () => {
  test('3x3 ones kernel on 1..9 with padding 1 gives neighbourhood sums', () => {
    const g = geometry({ padHeight: 1, padWidth: 1 });
    const input = Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const out = new Float32Array(9);
    ref.conv2d(g, input, new Float32Array(9).fill(1), Float32Array.from([0.5]), out);
    expect(Array.from(out)).toEqual([12.5, 21.5, 16.5, 27.5, 45.5, 33.5, 24.5, 39.5, 28.5]);
  });

  test('stride 2 picks every other window', () => {
    const g = geometry({ inHeight: 4, inWidth: 4, kernelHeight: 1, kernelWidth: 1, strideHeight: 2, strideWidth: 2 });
    const input = Float32Array.from({ length: 16 }, (_, i) => i);
    const out = new Float32Array(4);
    ref.conv2d(g, input, Float32Array.from([2]), null, out);
    expect(Array.from(out)).toEqual([0, 4, 16, 20]);
  });

  const cases: Partial<Conv2dGeometry>[] = [
    { batch: 2, inChannels: 3, outChannels: 4, inHeight: 5, inWidth: 6, padHeight: 1, padWidth: 1 },
    { batch: 1, inChannels: 2, outChannels: 3, inHeight: 7, inWidth: 7, strideHeight: 2, strideWidth: 2, padHeight: 1, padWidth: 1 },
    { batch: 2, inChannels: 2, outChannels: 2, inHeight: 9, inWidth: 8, kernelHeight: 7, kernelWidth: 7, padHeight: 3, padWidth: 3, strideHeight: 2, strideWidth: 2 },
    { batch: 1, inChannels: 1, outChannels: 2, inHeight: 5, inWidth: 5, kernelHeight: 1, kernelWidth: 1 },
  ];
  test.each(cases)('backward matches finite differences %#', (partial) => {
    const g = geometry(partial);
    const rand = seeded(7);
    const outSize = g.batch * g.outChannels * Math.floor((g.inHeight + 2 * g.padHeight - g.kernelHeight) / g.strideHeight + 1) *
      Math.floor((g.inWidth + 2 * g.padWidth - g.kernelWidth) / g.strideWidth + 1);
    const input = randomArray(g.batch * g.inChannels * g.inHeight * g.inWidth, rand);
    const weight = randomArray(g.outChannels * g.inChannels * g.kernelHeight * g.kernelWidth, rand);
    const bias = randomArray(g.outChannels, rand);
    const upstream = randomArray(outSize, rand);
    const out = new Float32Array(outSize);
    // L = sum(upstream * conv(x, w, b)) so dL/dout = upstream.
    const loss = (): number => {
      ref.conv2d(g, input, weight, bias, out);
      let s = 0;
      for (let i = 0; i < outSize; i++) s += upstream[i] * out[i];
      return s;
    };
    const gradInput = new Float32Array(input.length);
    const gradWeight = new Float32Array(weight.length);
    const gradBias = new Float32Array(bias.length);
    ref.conv2dBackwardInput(g, upstream, weight, gradInput);
    ref.conv2dBackwardWeights(g, input, upstream, gradWeight, gradBias);
    const h = 1e-2; // the loss is linear in each variable, so a large step loses no accuracy
    for (const [values, grads] of [[input, gradInput], [weight, gradWeight], [bias, gradBias]] as const) {
      for (let i = 0; i < values.length; i++) {
        const saved = values[i];
        values[i] = saved + h;
        const up = loss();
        values[i] = saved - h;
        const down = loss();
        values[i] = saved;
        expect(grads[i]).toBeCloseTo((up - down) / (2 * h), 3);
      }
    }
  });
});

describe('reference pooling', () => {
  const pool = (p: Partial<Pool2dGeometry>): Pool2dGeometry => ({
    batch: 1, channels: 1, inHeight: 4, inWidth: 4, kernelHeight: 2, kernelWidth: 2, strideHeight: 2, strideWidth: 2,
    padHeight: 0, padWidth: 0, ...p,
  });

  test('max-pool 2x2 picks window maxima and routes gradient to them', () => {
    const g = pool({});
    const input = Float32Array.from([1, 5, 2, 0, 3, 4, 8, 1, 0, 0, 1, 1, 9, 0, 1, 2]);
    const out = new Float32Array(4);
    const argmax = new Int32Array(4);
    ref.maxPool2d(g, input, out, argmax);
    expect(Array.from(out)).toEqual([5, 8, 9, 2]);
    expect(Array.from(argmax)).toEqual([1, 6, 12, 15]);
    const gradIn = new Float32Array(16);
    ref.maxPool2dBackward(g, Float32Array.from([1, 2, 3, 4]), argmax, gradIn);
    expect(Array.from(gradIn)).toEqual([0, 1, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 3, 0, 0, 4]);
  });

  test('max-pool ties go to the first element in window order', () => {
    const g = pool({ inHeight: 2, inWidth: 2 });
    const argmax = new Int32Array(1);
    ref.maxPool2d(g, Float32Array.from([3, 3, 3, 3]), new Float32Array(1), argmax);
    expect(argmax[0]).toBe(0);
  });

  test('avg-pool with padding counts padded cells (count_include_pad) and backward is its adjoint', () => {
    const g = pool({ inHeight: 3, inWidth: 3, kernelHeight: 3, kernelWidth: 3, strideHeight: 1, strideWidth: 1, padHeight: 1, padWidth: 1 });
    const input = Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const out = new Float32Array(9);
    ref.avgPool2d(g, input, out);
    expect(out[0]).toBeCloseTo(12 / 9, 6);
    expect(out[4]).toBeCloseTo(45 / 9, 6);
    // Adjoint identity: <avg(x), y> == <x, avgBackward(y)>.
    const y = Float32Array.from([0.3, -1, 2, 0.5, 1, -2, 0.1, 0.2, 0.7]);
    const gradIn = new Float32Array(9);
    ref.avgPool2dBackward(g, y, gradIn);
    let lhs = 0, rhs = 0;
    for (let i = 0; i < 9; i++) { lhs += out[i] * y[i]; rhs += input[i] * gradIn[i]; }
    expect(lhs).toBeCloseTo(rhs, 4);
  });

  test('global average pooling and its backward', () => {
    const out = new Float32Array(2);
    ref.globalAvgPool(1, 2, 2, 2, Float32Array.from([1, 2, 3, 4, 10, 10, 10, 14]), out);
    expect(Array.from(out)).toEqual([2.5, 11]);
    const gradIn = new Float32Array(8);
    ref.globalAvgPoolBackward(1, 2, 2, 2, Float32Array.from([4, 8]), gradIn);
    expect(Array.from(gradIn)).toEqual([1, 1, 1, 1, 2, 2, 2, 2]);
  });
});
