/**
 * Winograd F(2x2, 3x3) (what the wasm kernels run) against F(4x4, 3x3) (Lavin & Gray 2016) on every
 * 3x3 conv of the recipe network at R=32 and R=224: the float32 error of each against a float64
 * direct convolution, the multiplies per output, and the share of computed outputs that are real
 * (partial tiles at sides that are not multiples of the tile). Both algorithms run here in plain
 * TS with every operation rounded to float32 (Math.fround; the element-wise products summed over
 * channels one multiply and one add at a time, as the plain build's GEMM), so the error is the
 * algorithm's, not an implementation's.
 *
 *   node benchmarks/dist/winogradError.js [--json]
 */
import { recipePlan } from '@convoy/nn';
import { Rng } from '@convoy/tensor';

type Matrix = readonly (readonly number[])[];

interface Algorithm {
  name: string;
  /** Output tile side m; the input tile is m + 2. */
  m: number;
  BT: Matrix;
  G: Matrix;
  AT: Matrix;
}

const F2: Algorithm = {
  name: 'F(2x2,3x3)',
  m: 2,
  BT: [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]],
  G: [[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]],
  AT: [[1, 1, 1, 0], [0, 1, -1, -1]],
};

const F4: Algorithm = {
  name: 'F(4x4,3x3)',
  m: 4,
  BT: [
    [4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0],
    [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1],
  ],
  G: [[1 / 4, 0, 0], [-1 / 6, -1 / 6, -1 / 6], [-1 / 6, 1 / 6, -1 / 6], [1 / 24, 1 / 12, 1 / 6], [1 / 24, -1 / 12, 1 / 6], [0, 0, 1]],
  AT: [[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]],
};

const f = Math.fround;

/** L (r x k) . X (k x c) . R^T (c' x c)^T in float32 steps, X given as a flat row-major k x c array. */
function sandwich(L: Matrix, X: Float64Array, xCols: number, R: Matrix): Float64Array {
  const rows = L.length;
  const k = L[0].length;
  const tmp = new Float64Array(rows * xCols);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < xCols; j++) {
      let s = 0;
      for (let t = 0; t < k; t++) if (L[i][t] !== 0) s = f(s + f(f(L[i][t]) * X[t * xCols + j]));
      tmp[i * xCols + j] = s;
    }
  }
  const cols = R.length;
  const out = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      let s = 0;
      for (let t = 0; t < xCols; t++) if (R[j][t] !== 0) s = f(s + f(tmp[i * xCols + t] * f(R[j][t])));
      out[i * cols + j] = s;
    }
  }
  return out;
}

interface Shape {
  network: string;
  inChannels: number;
  outChannels: number;
  side: number;
}

/** y[M][side][side] of a 3x3 conv, padding 1, by Winograd `alg` in float32 steps. */
function winogradConv(alg: Algorithm, s: Shape, x: Float32Array, w: Float32Array): Float64Array {
  const { m } = alg;
  const a = m + 2;
  const tiles = Math.ceil(s.side / m);
  const C = s.inChannels;
  const M = s.outChannels;
  // U[mo][c] = G g G^T.
  const U: Float64Array[] = [];
  for (let mo = 0; mo < M; mo++) {
    for (let c = 0; c < C; c++) U.push(sandwich(alg.G, Float64Array.from(w.subarray((mo * C + c) * 9, (mo * C + c) * 9 + 9)), 3, alg.G));
  }
  const y = new Float64Array(M * s.side * s.side);
  const d = new Float64Array(a * a);
  for (let ty = 0; ty < tiles; ty++) {
    for (let tx = 0; tx < tiles; tx++) {
      // V[c] = B^T d B over the zero-padded input (padding 1, and zeros past the end).
      const V: Float64Array[] = [];
      for (let c = 0; c < C; c++) {
        for (let i = 0; i < a; i++) {
          for (let j = 0; j < a; j++) {
            const yy = ty * m + i - 1;
            const xx = tx * m + j - 1;
            d[i * a + j] = yy >= 0 && yy < s.side && xx >= 0 && xx < s.side ? x[(c * s.side + yy) * s.side + xx] : 0;
          }
        }
        V.push(sandwich(alg.BT, d, a, alg.BT));
      }
      for (let mo = 0; mo < M; mo++) {
        const prod = new Float64Array(a * a);
        for (let c = 0; c < C; c++) {
          const u = U[mo * C + c];
          const v = V[c];
          for (let e = 0; e < a * a; e++) prod[e] = f(prod[e] + f(u[e] * v[e]));
        }
        const out = sandwich(alg.AT, prod, a, alg.AT);
        for (let i = 0; i < m; i++) {
          for (let j = 0; j < m; j++) {
            const yy = ty * m + i;
            const xx = tx * m + j;
            if (yy < s.side && xx < s.side) y[(mo * s.side + yy) * s.side + xx] = out[i * m + j];
          }
        }
      }
    }
  }
  return y;
}

/** The direct convolution, in float64 (reference) or with every step rounded to float32. */
function directConv(s: Shape, x: Float32Array, w: Float32Array, float32: boolean): Float64Array {
  const r = float32 ? f : (v: number) => v;
  const y = new Float64Array(s.outChannels * s.side * s.side);
  for (let mo = 0; mo < s.outChannels; mo++) {
    for (let yy = 0; yy < s.side; yy++) {
      for (let xx = 0; xx < s.side; xx++) {
        let acc = 0;
        for (let c = 0; c < s.inChannels; c++) {
          for (let ky = 0; ky < 3; ky++) {
            const iy = yy + ky - 1;
            if (iy < 0 || iy >= s.side) continue;
            for (let kx = 0; kx < 3; kx++) {
              const ix = xx + kx - 1;
              if (ix < 0 || ix >= s.side) continue;
              acc = r(acc + r(x[(c * s.side + iy) * s.side + ix] * w[((mo * s.inChannels + c) * 3 + ky) * 3 + kx]));
            }
          }
        }
        y[(mo * s.side + yy) * s.side + xx] = acc;
      }
    }
  }
  return y;
}

function maxNormError(got: Float64Array, ref: Float64Array): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < ref.length; i++) {
    diff = Math.max(diff, Math.abs(got[i] - ref[i]));
    scale = Math.max(scale, Math.abs(ref[i]));
  }
  return diff / scale;
}

function recipeShapes(resolution: number): Shape[] {
  const plan = recipePlan({ resolution, classes: 10, width: 32 });
  return plan.blocks.flatMap((b) => [
    { network: `R=${resolution}`, inChannels: b.inChannels, outChannels: b.outChannels, side: b.inSide },
    { network: `R=${resolution}`, inChannels: b.outChannels, outChannels: b.outChannels, side: b.inSide },
  ]);
}

function main(): void {
  const json = process.argv.includes('--json');
  const log = (line: string) => (json ? process.stderr : process.stdout).write(line + '\n');
  const rows = [];
  log('| net | conv | direct f32 error | F(2x2) error | F(4x4) error | F(4x4) / F(2x2) error | mults per output F(2x2) / F(4x4) | useful outputs F(2x2) / F(4x4) |');
  log('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const s of [...recipeShapes(32), ...recipeShapes(224)]) {
    // Input: ReLU-like activations (uniform [0, 1); uniform [-1, 1) for the 3-channel stem does
    // not occur here: the stem is not a Winograd conv); weights: Kaiming-uniform.
    const rng = new Rng(s.inChannels * 1000 + s.side);
    const x = Float32Array.from({ length: s.inChannels * s.side * s.side }, () => rng.uniform());
    const bound = Math.sqrt(6 / (s.inChannels * 9));
    const w = Float32Array.from({ length: s.outChannels * s.inChannels * 9 }, () => (2 * rng.uniform() - 1) * bound);
    const ref = directConv(s, x, w, false);
    const direct = maxNormError(directConv(s, x, w, true), ref);
    const e2 = maxNormError(winogradConv(F2, s, x, w), ref);
    const e4 = maxNormError(winogradConv(F4, s, x, w), ref);
    const useful = (m: number) => (s.side * s.side) / (Math.ceil(s.side / m) * m) ** 2;
    const mults = (m: number) => ((m + 2) ** 2 / (m * m)) / useful(m);
    const row = {
      network: s.network, conv: `${s.inChannels}->${s.outChannels} @${s.side}`, directError: direct, f2Error: e2, f4Error: e4,
      multsPerOutputF2: mults(2), multsPerOutputF4: mults(4), usefulF2: useful(2), usefulF4: useful(4),
    };
    rows.push(row);
    log(`| ${row.network} | ${row.conv} | ${direct.toExponential(1)} | ${e2.toExponential(1)} | ${e4.toExponential(1)} | ${(e4 / e2).toFixed(1)}x | ` +
      `${row.multsPerOutputF2.toFixed(2)} / ${row.multsPerOutputF4.toFixed(2)} | ${(100 * row.usefulF2).toFixed(0)}% / ${(100 * row.usefulF4).toFixed(0)}% |`);
  }
  log('direct conv: 9 multiplies per output and channel pair; error = max|y - y64| / max|y64| over the layer output (one image).');
  if (json) process.stdout.write(JSON.stringify({ benchmark: 'winogradError', rows }) + '\n');
}

main();
