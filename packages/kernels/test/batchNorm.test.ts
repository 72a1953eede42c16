import { Rng } from '@convoy/tensor';
import { type BatchNormGeometry, batchNormGroups, referenceBackend as ref } from '../src';
import { WASM_VARIANTS, createWasmBackend } from '../src/wasm';
import { TOLERANCE, randomArray, relativeMaxError } from './parityHelpers';

// batchNormForward/batchNormBackward: the reference against batch normalisation written from its
// definition (two passes, float64), and every wasm build against the reference, on shapes swept over
// batch, channels, plane sizes (multiples of 4 and not) and ghost-group sizes (dividing the batch and
// not), training and eval, with and without the affine parameters and the fused ReLU.

interface Case {
  g: BatchNormGeometry;
  affine: boolean;
  relu: boolean;
  training: boolean;
  /** Added to every input: a large mean must not cost the variance its digits. */
  offset: number;
}

const cases: Case[] = (() => {
  const rng = new Rng(20261204);
  const planes = [1, 2, 3, 4, 5, 9, 16, 49, 64, 256];
  const list: Case[] = [];
  for (let i = 0; i < 40; i++) {
    const batch = 1 + Math.floor(rng.uniform() * 12);
    const planeSize = planes[Math.floor(rng.uniform() * planes.length)];
    let groupSize = 1 + Math.floor(rng.uniform() * batch);
    // every group (the last may be short) needs two values per channel for a variance
    while ((batch - (Math.ceil(batch / groupSize) - 1) * groupSize) * planeSize < 2) groupSize++;
    if (groupSize > batch && planeSize < 2) continue;
    list.push({
      g: { batch, channels: 1 + Math.floor(rng.uniform() * 9), planeSize, groupSize },
      affine: rng.uniform() < 0.7, relu: rng.uniform() < 0.5, training: rng.uniform() < 0.7, offset: rng.uniform() < 0.3 ? 100 : 0,
    });
  }
  list.push(
    { g: { batch: 32, channels: 4, planeSize: 1024, groupSize: 32 }, affine: true, relu: true, training: true, offset: 0 },
    { g: { batch: 64, channels: 8, planeSize: 64, groupSize: 32 }, affine: true, relu: false, training: true, offset: 3 },
    { g: { batch: 5, channels: 3, planeSize: 7, groupSize: 2 }, affine: false, relu: true, training: true, offset: 0 },
  );
  return list;
})();

const label = (c: Case) => `${c.g.batch}x${c.g.channels}x${c.g.planeSize} groups of ${c.g.groupSize} ${c.training ? 'train' : 'eval'}${c.affine ? ' affine' : ''}${c.relu ? ' relu' : ''}${c.offset ? ` +${c.offset}` : ''}`;

interface Operands {
  x: Float32Array;
  dy: Float32Array;
  weight: Float32Array | null;
  bias: Float32Array | null;
  mean: Float32Array;
  variance: Float32Array;
}

function operandsOf(c: Case, seed: number): Operands {
  const rng = new Rng(seed);
  const size = c.g.batch * c.g.channels * c.g.planeSize;
  const x = randomArray(size, rng).map((v) => v * 2 + c.offset);
  const stats = c.training ? batchNormGroups(c.g) * c.g.channels : c.g.channels;
  return {
    x, dy: randomArray(size, rng),
    weight: c.affine ? randomArray(c.g.channels, rng).map((v) => v + 1.5) : null,
    bias: c.affine ? randomArray(c.g.channels, rng) : null,
    // eval reads these; training overwrites them
    mean: randomArray(stats, rng).map((v) => v + c.offset), variance: randomArray(stats, rng).map((v) => v * v + 0.5),
  };
}

interface Result { out: Float32Array; mean: Float32Array; variance: Float32Array; dx: Float32Array; dw: Float32Array; db: Float32Array }

function run(backend: typeof ref, c: Case, o: Operands): Result {
  const size = o.x.length;
  const mean = o.mean.slice();
  const variance = o.variance.slice();
  const out = new Float32Array(size).fill(NaN);
  const epilogue = c.relu ? { relu: true } : undefined;
  backend.batchNormForward(c.g, o.x, o.weight, o.bias, 1e-5, mean, variance, out, c.training, epilogue);
  const dx = new Float32Array(size).fill(NaN);
  const dw = new Float32Array(c.g.channels).fill(NaN);
  const db = new Float32Array(c.g.channels).fill(NaN);
  backend.batchNormBackward(c.g, o.x, o.dy, c.relu ? out : null, o.weight, 1e-5, mean, variance, c.training, dx, dw, db);
  return { out, mean, variance, dx, dw, db };
}

/** The definition, in float64: per group, mean, then the mean squared deviation; gradients as PyTorch's formula. */
function definition(c: Case, o: Operands): Result {
  const { batch, channels, planeSize: hw } = c.g;
  const size = batch * channels * hw;
  const groupSize = c.training ? c.g.groupSize : batch;
  const groups = Math.ceil(batch / groupSize);
  const r: Result = { out: new Float32Array(size), mean: o.mean.slice(), variance: o.variance.slice(), dx: new Float32Array(size), dw: new Float32Array(channels), db: new Float32Array(channels) };
  const dw = new Float64Array(channels);
  const db = new Float64Array(channels);
  for (let grp = 0; grp < groups; grp++) {
    const images: number[] = [];
    for (let i = grp * groupSize; i < Math.min(batch, (grp + 1) * groupSize); i++) images.push(i);
    for (let ch = 0; ch < channels; ch++) {
      const at = (i: number, k: number) => (i * channels + ch) * hw + k;
      const stat = c.training ? grp * channels + ch : ch;
      const m = images.length * hw;
      let mu: number;
      let v: number;
      if (c.training) {
        mu = 0;
        for (const i of images) for (let k = 0; k < hw; k++) mu += o.x[at(i, k)];
        mu /= m;
        v = 0;
        for (const i of images) for (let k = 0; k < hw; k++) v += (o.x[at(i, k)] - mu) ** 2;
        v /= m;
        r.mean[stat] = mu;
        r.variance[stat] = v;
      } else {
        mu = o.mean[stat];
        v = o.variance[stat];
      }
      const inv = 1 / Math.sqrt(v + 1e-5);
      const gamma = o.weight ? o.weight[ch] : 1;
      const beta = o.bias ? o.bias[ch] : 0;
      const dyOf = (i: number, k: number) => {
        const y = (o.x[at(i, k)] - mu) * inv * gamma + beta;
        return c.relu && y <= 0 ? 0 : o.dy[at(i, k)];
      };
      let sumDy = 0;
      let sumDyXhat = 0;
      for (const i of images) {
        for (let k = 0; k < hw; k++) {
          const y = (o.x[at(i, k)] - mu) * inv * gamma + beta;
          r.out[at(i, k)] = c.relu ? Math.max(y, 0) : y;
          sumDy += dyOf(i, k);
          sumDyXhat += dyOf(i, k) * (o.x[at(i, k)] - mu) * inv;
        }
      }
      dw[ch] += sumDyXhat;
      db[ch] += sumDy;
      for (const i of images) {
        for (let k = 0; k < hw; k++) {
          const xhat = (o.x[at(i, k)] - mu) * inv;
          r.dx[at(i, k)] = c.training ? (gamma * inv / m) * (m * dyOf(i, k) - sumDy - xhat * sumDyXhat) : gamma * inv * dyOf(i, k);
        }
      }
    }
  }
  r.dw.set(dw);
  r.db.set(db);
  return r;
}

function expectClose(actual: Result, expected: Result, c: Case, tolerance: number): void {
  for (const key of ['out', 'mean', 'variance', 'dx', 'dw', 'db'] as const) {
    const error = relativeMaxError(actual[key], expected[key]);
    if (!(error <= tolerance)) throw new Error(`${label(c)}: ${key} off by ${error.toExponential(2)} (relative max), tolerance ${tolerance}`);
  }
}

describe('batchNormForward/batchNormBackward', () => {
  it('the reference computes batch normalisation and its gradients as defined', () => {
    cases.forEach((c, i) => expectClose(run(ref, c, operandsOf(c, i)), definition(c, operandsOf(c, i)), c, TOLERANCE));
  });

  for (const variant of WASM_VARIANTS) {
    it(`wasm (${variant}) matches the reference on every swept shape`, () => {
      const wasm = createWasmBackend({ variant });
      cases.forEach((c, i) => expectClose(run(wasm, c, operandsOf(c, i)), run(ref, c, operandsOf(c, i)), c, TOLERANCE));
    });
  }

  it('the ghost groups are independent: each group normalised alone gives the same numbers', () => {
    const wasm = createWasmBackend();
    const c: Case = { g: { batch: 6, channels: 3, planeSize: 9, groupSize: 4 }, affine: true, relu: false, training: true, offset: 0 };
    const o = operandsOf(c, 99);
    const whole = run(wasm, c, o);
    const size = 3 * 9;
    const parts = [[0, 4], [4, 6]].map(([first, last]) => {
      const part: Case = { ...c, g: { ...c.g, batch: last - first } };
      return run(wasm, part, { ...o, x: o.x.slice(first * size, last * size), dy: o.dy.slice(first * size, last * size), mean: new Float32Array(3), variance: new Float32Array(3) });
    });
    expect(Array.from(whole.out)).toEqual([...parts[0].out, ...parts[1].out]);
    expect(Array.from(whole.mean)).toEqual([...parts[0].mean, ...parts[1].mean]);
    expect(Array.from(whole.dx)).toEqual([...parts[0].dx, ...parts[1].dx]);
  });

  it('says what is wrong with a bad geometry or a short array', () => {
    const wasm = createWasmBackend();
    const x = new Float32Array(8);
    expect(() => wasm.batchNormForward({ batch: 2, channels: 2, planeSize: 2, groupSize: 0 }, x, null, null, 1e-5, new Float32Array(4), new Float32Array(4), x, true))
      .toThrow(/\bgroupSize\b.*\b0$/);
    expect(() => wasm.batchNormForward({ batch: 2, channels: 2, planeSize: 2, groupSize: 1 }, x, null, null, 1e-5, new Float32Array(2), new Float32Array(4), x, true))
      .toThrow(/^batchNormForward mean: .*\b4 elements\b.*\[2, 2\].*\b2\b/);
  });
});
