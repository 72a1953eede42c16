/** Eigenvalues (largest first) and unit eigenvectors (row k belongs to value k) of a symmetric matrix. */
export interface SymmetricEigen {
  values: Float64Array;
  /** n x n, row-major: row k is the eigenvector of values[k]. */
  vectors: Float64Array;
}

/**
 * The eigendecomposition of a small symmetric n x n matrix (row-major, float64) by cyclic Jacobi
 * rotations: each rotation zeroes one off-diagonal pair, and sweeps repeat until what is left off
 * the diagonal is at float64 rounding. Slow for large n (n^3 per sweep), exact enough and simple
 * for the 12 x 12 patch covariance of a whitening layer.
 *
 * Eigenvectors have no sign of their own; each is returned with its largest-magnitude component
 * positive (the first such on a tie), so the result does not depend on how it was computed.
 */
export function symmetricEigen(matrix: ArrayLike<number>, n: number): SymmetricEigen {
  if (!Number.isInteger(n) || n < 1 || matrix.length !== n * n) throw new RangeError(`symmetricEigen: expected ${n} x ${n} = ${n * n} values, got ${matrix.length}`);
  const a = Float64Array.from(matrix);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < i; j++) {
      const scale = Math.max(Math.abs(a[i * n + j]), Math.abs(a[j * n + i]), Number.MIN_VALUE);
      if (!Number.isFinite(a[i * n + j]) || Math.abs(a[i * n + j] - a[j * n + i]) > 1e-12 * scale) {
        throw new RangeError(`symmetricEigen: the matrix is not symmetric (or not finite) at [${i}, ${j}]: ${a[i * n + j]} against ${a[j * n + i]}`);
      }
    }
  }
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    let diagonal = 0;
    for (let i = 0; i < n; i++) {
      diagonal += a[i * n + i] * a[i * n + i];
      for (let j = i + 1; j < n; j++) off += a[i * n + j] * a[i * n + j];
    }
    if (off <= 1e-32 * diagonal || off === 0) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q];
        if (apq === 0) continue;
        // The rotation by angle phi in the (p, q) plane with t = tan(phi) the smaller root of
        // t^2 + 2 theta t - 1 = 0 zeroes a[p][q] (the smaller root keeps the rotation under 45 degrees).
        const theta = (a[q * n + q] - a[p * n + p]) / (2 * apq);
        const t = (theta >= 0 ? 1 : -1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = a[k * n + p];
          const akq = a[k * n + q];
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p * n + k];
          const aqk = a[q * n + k];
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p];
          const vkq = v[k * n + q];
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => a[j * n + j] - a[i * n + i]);
  const values = Float64Array.from(order, (i) => a[i * n + i]);
  const vectors = new Float64Array(n * n);
  order.forEach((col, row) => {
    let largest = 0;
    for (let k = 1; k < n; k++) if (Math.abs(v[k * n + col]) > Math.abs(v[largest * n + col])) largest = k;
    const sign = v[largest * n + col] < 0 ? -1 : 1;
    for (let k = 0; k < n; k++) vectors[row * n + k] = sign * v[k * n + col];
  });
  return { values, vectors };
}
