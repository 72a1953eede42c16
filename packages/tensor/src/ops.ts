import { assertSameShape } from './shape';
import { Tensor } from './tensor';

/**
 * Element-wise and reduction helpers. The `*Into` / in-place forms write into caller-owned arrays so
 * hot loops do not allocate; the Tensor forms allocate and check shapes (for tests and set-up code).
 */

/** out[i] = a[i] + b[i]. */
export function addInto(a: Float32Array, b: Float32Array, out: Float32Array): void {
  checkLengths(a, b, out, 'addInto');
  for (let i = 0; i < out.length; i++) out[i] = a[i] + b[i];
}

/** out[i] = a[i] - b[i]. */
export function subInto(a: Float32Array, b: Float32Array, out: Float32Array): void {
  checkLengths(a, b, out, 'subInto');
  for (let i = 0; i < out.length; i++) out[i] = a[i] - b[i];
}

/** out[i] = a[i] * b[i]. */
export function mulInto(a: Float32Array, b: Float32Array, out: Float32Array): void {
  checkLengths(a, b, out, 'mulInto');
  for (let i = 0; i < out.length; i++) out[i] = a[i] * b[i];
}

/** x[i] *= alpha. */
export function scaleInPlace(x: Float32Array, alpha: number): void {
  for (let i = 0; i < x.length; i++) x[i] *= alpha;
}

/** y[i] += alpha * x[i] (BLAS axpy). */
export function axpy(alpha: number, x: Float32Array, y: Float32Array): void {
  if (x.length !== y.length) throw new RangeError(`axpy: lengths differ: ${x.length} vs ${y.length}`);
  for (let i = 0; i < y.length; i++) y[i] += alpha * x[i];
}

/** Sum in double precision. */
export function sum(x: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i];
  return s;
}

export function mean(x: ArrayLike<number>): number {
  if (x.length === 0) throw new RangeError('mean: empty array');
  return sum(x) / x.length;
}

export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new RangeError(`dot: lengths differ: ${a.length} vs ${b.length}`);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

export function maxAbs(x: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < x.length; i++) {
    const v = Math.abs(x[i]);
    if (v > m || Number.isNaN(v)) m = v;
  }
  return m;
}

/** max |a - b| (NaN if either holds a NaN). */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new RangeError(`maxAbsDiff: lengths differ: ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (d > m || Number.isNaN(d)) m = d;
  }
  return m;
}

/** max |a - b| / max(max |b|, floor): a relative error robust to near-zero elements. */
export function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>, floor = 1e-12): number {
  return maxAbsDiff(actual, expected) / Math.max(maxAbs(expected), floor);
}

/** Index of the first NaN or infinity, or -1. */
export function findNonFinite(x: ArrayLike<number>): number {
  for (let i = 0; i < x.length; i++) if (!Number.isFinite(x[i])) return i;
  return -1;
}

/** Throws a clear error naming `what` and the position when `x` holds NaN or infinity. */
export function assertFinite(x: ArrayLike<number>, what: string): void {
  const i = findNonFinite(x);
  if (i >= 0) {
    throw new RangeError(`${what}: element ${i} is ${x[i]}; expected finite numbers (check the input data and the learning rate)`);
  }
}

/** For each row of a [rows, cols] matrix, the column of its largest value (first on ties). */
export function argmaxRows(x: Float32Array, rows: number, cols: number, out: Int32Array = new Int32Array(rows)): Int32Array {
  if (x.length !== rows * cols) throw new RangeError(`argmaxRows: ${x.length} elements is not ${rows}x${cols}`);
  for (let r = 0; r < rows; r++) {
    let best = 0;
    let bestValue = x[r * cols];
    for (let c = 1; c < cols; c++) {
      const v = x[r * cols + c];
      if (v > bestValue) {
        bestValue = v;
        best = c;
      }
    }
    out[r] = best;
  }
  return out;
}

export function add(a: Tensor, b: Tensor): Tensor {
  assertSameShape(a, b, 'add');
  const out = Tensor.zeros(a.shape);
  addInto(a.data, b.data, out.data);
  return out;
}

export function sub(a: Tensor, b: Tensor): Tensor {
  assertSameShape(a, b, 'sub');
  const out = Tensor.zeros(a.shape);
  subInto(a.data, b.data, out.data);
  return out;
}

export function mul(a: Tensor, b: Tensor): Tensor {
  assertSameShape(a, b, 'mul');
  const out = Tensor.zeros(a.shape);
  mulInto(a.data, b.data, out.data);
  return out;
}

export function scale(a: Tensor, alpha: number): Tensor {
  const out = a.clone();
  scaleInPlace(out.data, alpha);
  return out;
}

function checkLengths(a: Float32Array, b: Float32Array, out: Float32Array, what: string): void {
  if (a.length !== b.length || a.length !== out.length) {
    throw new RangeError(`${what}: lengths differ: ${a.length}, ${b.length}, out ${out.length}`);
  }
}
