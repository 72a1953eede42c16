import { Rng } from '@convoy/tensor';
import { CIFAR10_CHANNELS, CIFAR10_HEIGHT, CIFAR10_IMAGE_BYTES, CIFAR10_WIDTH } from './cifar10Format';
import { ImageSet } from './imageSet';
import { CIFAR10_NORMALIZATION, Normalization, normalizationTable } from './normalization';

/** Pixels of zero padding on each side before the random 32x32 crop (the standard CIFAR recipe). */
export const CROP_PADDING = 4;

export interface FillBatchOptions {
  /** Training augmentation: random crop with 4-pixel zero padding, then a horizontal flip half the time. */
  augment: boolean;
  /** Run seed and epoch: with the sample index they key the augmentation RNG. Required when augment is on. */
  seed?: number;
  epoch?: number;
  /** Default CIFAR10_NORMALIZATION. Reuse one object: its lookup table is cached per object. */
  normalization?: Normalization;
}

const PLANE = CIFAR10_HEIGHT * CIFAR10_WIDTH;

/**
 * Writes samples indices[start..end) as rows 0..end-start-1 of an NCHW float batch: bytes
 * normalised per channel and, when `augment` is on, randomly cropped and flipped. The draws for a
 * sample come from Rng.forKey(seed, epoch, sampleIndex) (first the crop's top offset, then its
 * left offset, each uniform in 0..8, then the flip), so a sample's pixels depend only on
 * (seed, epoch, sample), never on which worker or batch position got it.
 *
 * As torchvision's RandomCrop(32, padding=4) before Normalize: padding pixels are black (byte 0),
 * i.e. -mean/std after normalisation; the flip mirrors the cropped image.
 *
 * Runs every step: no buffers are allocated (one small Rng per augmented sample).
 */
export function fillBatch(
  set: ImageSet,
  indices: ArrayLike<number>,
  start: number,
  end: number,
  outImages: Float32Array,
  outLabels: Int32Array,
  options: FillBatchOptions,
): void {
  const n = end - start;
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || n < 0 || end > indices.length) {
    throw new RangeError(`fillBatch: range [${start}, ${end}) is not inside the ${indices.length} indices`);
  }
  if (outImages.length < n * CIFAR10_IMAGE_BYTES || outLabels.length < n) {
    throw new RangeError(
      `fillBatch: ${n} samples need outImages of at least ${n * CIFAR10_IMAGE_BYTES} floats ([${n}, 3, 32, 32]) and outLabels of ${n}, ` +
        `got ${outImages.length} and ${outLabels.length}`,
    );
  }
  const { augment } = options;
  const seed = options.seed ?? 0;
  const epoch = options.epoch ?? 0;
  if (augment && (!Number.isSafeInteger(options.seed) || !Number.isInteger(options.epoch) || epoch < 0)) {
    throw new RangeError(`fillBatch: augment needs an integer seed and a non-negative integer epoch, got seed ${options.seed}, epoch ${options.epoch}`);
  }
  const table = normalizationTable(options.normalization ?? CIFAR10_NORMALIZATION);
  const { images, labels, count } = set;

  for (let row = 0; row < n; row++) {
    const sample = indices[start + row];
    if (!(sample >= 0 && sample < count && Number.isInteger(sample))) {
      throw new RangeError(`fillBatch: index ${sample} (position ${start + row}) is outside the ${count} images of the set`);
    }
    outLabels[row] = labels[sample];
    const src = sample * CIFAR10_IMAGE_BYTES;
    const dst = row * CIFAR10_IMAGE_BYTES;
    if (!augment) {
      for (let c = 0; c < CIFAR10_CHANNELS; c++) {
        const t = c * 256;
        const s = src + c * PLANE;
        const d = dst + c * PLANE;
        for (let p = 0; p < PLANE; p++) outImages[d + p] = table[t + images[s + p]];
      }
      continue;
    }
    const rng = Rng.forKey(seed, epoch, sample);
    const dy = rng.int(2 * CROP_PADDING + 1) - CROP_PADDING;
    const dx = rng.int(2 * CROP_PADDING + 1) - CROP_PADDING;
    const flip = rng.int(2) === 1;
    writeCropped(images, src, outImages, dst, table, dy, dx, flip);
  }
}

/**
 * Output pixel (y, x) takes source pixel (y + dy, x + dx), or (y + dy, 31 - x + dx) when flipped;
 * outside the source it is the padding value. The in-range columns are worked out once per
 * image so the inner loops have no bounds tests.
 */
function writeCropped(
  images: Uint8Array,
  src: number,
  out: Float32Array,
  dst: number,
  table: Float32Array,
  dy: number,
  dx: number,
  flip: boolean,
): void {
  const W = CIFAR10_WIDTH;
  const xLo = flip ? Math.max(0, dx) : Math.max(0, -dx);
  const xHi = flip ? Math.min(W, W + dx) : Math.min(W, W - dx);
  for (let c = 0; c < CIFAR10_CHANNELS; c++) {
    const t = c * 256;
    const pad = table[t];
    const plane = src + c * PLANE;
    for (let y = 0; y < CIFAR10_HEIGHT; y++) {
      const d = dst + c * PLANE + y * W;
      const sy = y + dy;
      if (sy < 0 || sy >= CIFAR10_HEIGHT) {
        out.fill(pad, d, d + W);
        continue;
      }
      const row = plane + sy * W;
      for (let x = 0; x < xLo; x++) out[d + x] = pad;
      if (flip) {
        const base = row + W - 1 + dx; // source column of x is base - x
        for (let x = xLo; x < xHi; x++) out[d + x] = table[t + images[base - x]];
      } else {
        const base = row + dx;
        for (let x = xLo; x < xHi; x++) out[d + x] = table[t + images[base + x]];
      }
      for (let x = xHi; x < W; x++) out[d + x] = pad;
    }
  }
}
