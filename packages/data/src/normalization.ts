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
  return normalizationFromSums(channelSums(set));
}

/** Per-channel integer sums of the pixel bytes and of their squares, and the pixels per channel: statistics that add over parts of a set. */
export interface ChannelSums {
  readonly sum: number[];
  readonly sumSq: number[];
  readonly pixels: number;
}

/** The ChannelSums of `set`. Integer sums are exact (< 2^53 for any realistic set), so no float drift over millions of pixels. */
export function channelSums(set: ImageSet): ChannelSums {
  const plane = set.height * set.width;
  const stride = imageBytes(set);
  const sum: number[] = [];
  const sumSq: number[] = [];
  for (let c = 0; c < set.channels; c++) {
    let total = 0;
    let totalSq = 0;
    for (let i = 0; i < set.count; i++) {
      const base = i * stride + c * plane;
      let s = 0;
      let s2 = 0;
      for (let p = 0; p < plane; p++) {
        const v = set.images[base + p];
        s += v;
        s2 += v * v;
      }
      total += s;
      totalSq += s2;
    }
    sum.push(total);
    sumSq.push(totalSq);
  }
  return { sum, sumSq, pixels: set.count * plane };
}

/** The sums of parts, as the sums of the whole. */
export function addChannelSums(parts: readonly ChannelSums[]): ChannelSums {
  const channels = parts[0]?.sum.length ?? 0;
  const add = (key: 'sum' | 'sumSq') => Array.from({ length: channels }, (_, c) => parts.reduce((t, p) => t + p[key][c], 0));
  return { sum: add('sum'), sumSq: add('sumSq'), pixels: parts.reduce((t, p) => t + p.pixels, 0) };
}

/**
 * Population mean and std per channel on the [0, 1] scale from the sums; a channel with no
 * variation gets std 1/255 (one level) instead of 0, so normalising stays finite.
 */
export function normalizationFromSums(sums: ChannelSums): Normalization {
  if (sums.pixels === 0) throw new RangeError('normalizationFromSums: no pixels');
  const mean: number[] = [];
  const std: number[] = [];
  sums.sum.forEach((s, c) => {
    const m = s / sums.pixels;
    mean.push(m / 255);
    std.push(Math.max(1, Math.sqrt(Math.max(0, sums.sumSq[c] / sums.pixels - m * m))) / 255);
  });
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
