import { existsSync, openSync, readFileSync, readSync, closeSync } from 'fs';
import { join } from 'path';
import { Rng, Tensor } from '@convoy/tensor';
import { PatchCovariance, symmetricEigen, whiteningFilters } from '../src';

/**
 * The whitening layer's arithmetic against PyTorch on real CIFAR-10 patches (fixture written by
 * tools/pytorch/make_whitening_fixture.py): convoy's Jacobi eigensolver against torch.linalg.eigh
 * on the stored 12 x 12 covariance of 2x2 patches, the filters made from it, and (with
 * CIFAR10_DIR) convoy's patch covariance of the same images against PyTorch's.
 */
const fixture = JSON.parse(readFileSync(join(__dirname, 'fixtures', 'whitening-cifar.json'), 'utf8')) as {
  images: number; kernel: [number, number]; eps: number; normalization: { mean: number[]; std: number[] };
  covariance: number[]; eigenvalues: number[]; eigenvectors: number[]; filters: number[];
};
const D = 12;

function largestDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

describe('symmetricEigen (cyclic Jacobi, float64)', () => {
  it('decomposes a random symmetric matrix: A v = lambda v, orthonormal vectors, values largest first', () => {
    const n = 9;
    const rng = new Rng(5);
    const a = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) a[i * n + j] = a[j * n + i] = rng.normal();
    const { values, vectors } = symmetricEigen(a, n);
    for (let k = 0; k < n; k++) {
      if (k > 0) expect(values[k]).toBeLessThanOrEqual(values[k - 1]);
      for (let i = 0; i < n; i++) {
        let av = 0;
        for (let j = 0; j < n; j++) av += a[i * n + j] * vectors[k * n + j];
        expect(Math.abs(av - values[k] * vectors[k * n + i])).toBeLessThan(1e-12);
      }
      for (let l = 0; l < n; l++) {
        let dot = 0;
        for (let j = 0; j < n; j++) dot += vectors[k * n + j] * vectors[l * n + j];
        expect(Math.abs(dot - (k === l ? 1 : 0))).toBeLessThan(1e-12);
      }
    }
  });

  it('refuses a matrix that is not symmetric, naming the place', () => {
    expect(() => symmetricEigen([1, 2, 3, 1], 2)).toThrow('symmetricEigen: the matrix is not symmetric (or not finite) at [1, 0]: 3 against 2');
  });

  it('matches torch.linalg.eigh on the 2x2 patch covariance of 500 CIFAR-10 images (values 1e-12 relative, vectors 1e-9)', () => {
    const { values, vectors } = symmetricEigen(fixture.covariance, D);
    for (let k = 0; k < D; k++) expect(Math.abs(values[k] - fixture.eigenvalues[k])).toBeLessThan(1e-12 * fixture.eigenvalues[0]);
    // The smallest eigenvalue is ~1e-5 of the largest, so its vector is the least determined.
    expect(largestDifference(vectors, fixture.eigenvectors)).toBeLessThan(1e-9);
  });

  it('gives the whitening filters PyTorch gives (eigenvectors / sqrt(value + eps), then their negatives)', () => {
    const filters = whiteningFilters(Float64Array.from(fixture.covariance), D, fixture.eps);
    expect(filters.length).toBe(2 * D * D);
    const scale = Math.max(...fixture.filters.map(Math.abs));
    expect(largestDifference(filters, fixture.filters) / scale).toBeLessThan(1e-6);
  });
});

const cifarDir = process.env.CIFAR10_DIR;
const haveCifar = cifarDir !== undefined && existsSync(join(cifarDir, 'data_batch_1.bin'));
(haveCifar ? describe : describe.skip)(`PatchCovariance on CIFAR-10${haveCifar ? '' : ' (skipped: set CIFAR10_DIR)'}`, () => {
  it("equals PyTorch's covariance of the same images' 2x2 patches", () => {
    const n = fixture.images;
    const bytes = Buffer.alloc(n * 3073);
    const fd = openSync(join(cifarDir as string, 'data_batch_1.bin'), 'r');
    readSync(fd, bytes, 0, bytes.length, 0);
    closeSync(fd);
    const { mean, std } = fixture.normalization;
    const images = Tensor.zeros([n, 3, 32, 32]);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < 3072; j++) images.data[i * 3072 + j] = Math.fround((bytes[i * 3073 + 1 + j] / 255 - mean[Math.floor(j / 1024)]) / std[Math.floor(j / 1024)]);
    }
    const covariance = new PatchCovariance(3, 2, 2);
    covariance.add(new Tensor(images.data.subarray(0, 200 * 3072), [200, 3, 32, 32]));
    covariance.add(new Tensor(images.data.subarray(200 * 3072), [n - 200, 3, 32, 32]));
    expect(covariance.patches).toBe(n * 31 * 31);
    expect(largestDifference(covariance.matrix(), fixture.covariance)).toBeLessThan(1e-12 * Math.max(...fixture.covariance));
  });
});
