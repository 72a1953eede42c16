import { ImageSet, imageBytes } from './imageSet';

/** Per-channel statistics on the [0, 1] pixel scale: x -> (pixel/255 - mean[c]) / std[c]; one entry per channel. */
export interface Normalization {
  readonly mean: readonly number[];
  readonly std: readonly number[];
}

/**
 * The standard CIFAR-10 training-set statistics (population mean and std over all 50,000 x 1,024
 * pixels per channel of the official release, as torchvision recipes use). These are the default.
 * `computeChannelStats(train)` gives the statistics of the copy at hand instead: on the shared
 * copy here it gives mean (0.4913, 0.4821, 0.4465), std (0.2452, 0.2428, 0.2606).
 */
export const CIFAR10_NORMALIZATION: Normalization = Object.freeze({
  mean: Object.freeze([0.4914, 0.4822, 0.4465]),
  std: Object.freeze([0.247, 0.2435, 0.2616]),
});

/**
 * Population mean and std per channel over every pixel of `set`, on the [0, 1] scale: the
 * normalisation of a dataset without standard values (an image folder's training images).
 * A channel with no variation gets std 1/255 (one level) instead of 0, so normalising stays finite.
 */
export function computeChannelStats(set: ImageSet): Normalization {
  if (set.count === 0) throw new RangeError('computeChannelStats: the set has no images');
  const plane = set.height * set.width;
  const stride = imageBytes(set);
  const mean: number[] = [];
  const std: number[] = [];
  for (let c = 0; c < set.channels; c++) {
    // Integer sums are exact (< 2^53 for any realistic set), so no float drift over 51 M pixels.
    let sum = 0;
    let sumSq = 0;
    for (let i = 0; i < set.count; i++) {
      const base = i * stride + c * plane;
      let s = 0;
      let s2 = 0;
      for (let p = 0; p < plane; p++) {
        const v = set.images[base + p];
        s += v;
        s2 += v * v;
      }
      sum += s;
      sumSq += s2;
    }
    const n = set.count * plane;
    const m = sum / n;
    mean.push(m / 255);
    std.push(Math.max(1, Math.sqrt(Math.max(0, sumSq / n - m * m))) / 255);
  }
  return { mean, std };
}

const tables = new WeakMap<Normalization, Float32Array>();

/**
 * The channels x 256 lookup table (channel-major) from byte to normalised float for `n`, built once per
 * Normalization object and cached, so fillBatch does one table read per pixel and allocates nothing.
 */
export function normalizationTable(n: Normalization): Float32Array {
  let table = tables.get(n);
  if (!table) {
    validateNormalization(n);
    table = new Float32Array(n.mean.length * 256);
    for (let c = 0; c < n.mean.length; c++) {
      for (let v = 0; v < 256; v++) table[c * 256 + v] = (v / 255 - n.mean[c]) / n.std[c];
    }
    tables.set(n, table);
  }
  return table;
}

function validateNormalization(n: Normalization): void {
  const ok =
    n &&
    Array.isArray(n.mean) &&
    Array.isArray(n.std) &&
    n.mean.length > 0 &&
    n.std.length === n.mean.length &&
    n.mean.every((m) => Number.isFinite(m)) &&
    n.std.every((s) => Number.isFinite(s) && s > 0);
  if (!ok) {
    throw new RangeError(
      `normalization: expected { mean: [finite numbers], std: [as many positive numbers] }, one per channel, on the [0, 1] scale, got ${JSON.stringify(n)}`,
    );
  }
}
