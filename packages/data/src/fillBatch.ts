import { Rng } from '@convoy/tensor';
import { ImageSet, imageBytes } from './imageSet';
import { CIFAR10_NORMALIZATION, Normalization, normalizationTable } from './normalization';

/**
 * Pixels of zero padding on each side before the random crop: an eighth of the side, the CIFAR
 * recipe's 4 pixels at 32 (RandomCrop(32, padding=4)) carried to any resolution (28 at 224).
 */
export function cropPadding(side: number): number {
  return Math.floor(side / 8);
}

/**
 * Which training augmentation `augment` applies:
 * - 'crop-flip': a random crop with side/8 zero padding, then a horizontal flip half the time,
 *   both drawn afresh for every (seed, epoch, sample);
 * - 'alternating-flip-translate' (airbench94's): each image is mirrored or not once for the whole
 *   run (drawn from (seed, sample)), and every odd epoch mirrors all of them, so an image is seen
 *   in both orientations in turn rather than by chance; then a random translation of up to
 *   ALTERNATING_TRANSLATE pixels on each axis, the border reflected (PyTorch's 'reflect' padding,
 *   which does not repeat the edge pixel), drawn afresh for every (seed, epoch, sample).
 */
export const AUGMENTATIONS = ['crop-flip', 'alternating-flip-translate'] as const;
export type AugmentationKind = (typeof AUGMENTATIONS)[number];

/** Largest shift of 'alternating-flip-translate' on each axis (airbench94's translate 2). */
export const ALTERNATING_TRANSLATE = 2;

// Keeps the once-per-run flip draws Rng.forKey(seed, FLIP_STREAM, sample) apart from the
// per-epoch draws Rng.forKey(seed, epoch, sample): they would only meet at epoch 0x464c4950.
const FLIP_STREAM = 0x464c4950; // "FLIP"

export interface FillBatchOptions {
  /** Training augmentation (of the kind `augmentation` names); false: the plain images. */
  augment: boolean;
  /** Default 'crop-flip'. */
  augmentation?: AugmentationKind;
  /** Run seed and epoch: with the sample index they key the augmentation RNG. Required when augment is on. */
  seed?: number;
  epoch?: number;
  /** Default CIFAR10_NORMALIZATION. One entry per channel of the set. Reuse one object: its lookup table is cached per object. */
  normalization?: Normalization;
  /**
   * The sample key of each index (parallel to `indices`), keying its augmentation instead of the
   * index: a streamed dataset copies each batch into a small set, where an image's index is its
   * place in that set, not which image it is (docs/DISTRIBUTED.md, "Streaming"). Default: the index.
   */
  keys?: ArrayLike<number>;
}

/**
 * Writes samples indices[start..end) as rows 0..end-start-1 of an NCHW float batch
 * (`[n, channels, height, width]` of the set): bytes normalised per channel and, when `augment`
 * is on, randomly cropped and flipped. The draws for a sample come from
 * Rng.forKey(seed, epoch, sampleKey) (the index, or `keys[i]` when given; first the crop's top offset, then its left offset, each
 * uniform in 0..2p where p = cropPadding(side), then the flip), so a sample's pixels depend only on
 * (seed, epoch, sample), never on which worker or batch position got it.
 *
 * As torchvision's RandomCrop(R, padding=R/8) before Normalize: padding pixels are black (byte 0),
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
  const { channels, height, width } = set;
  const stride = imageBytes(set);
  if (outImages.length < n * stride || outLabels.length < n) {
    throw new RangeError(
      `fillBatch: ${n} samples need outImages of at least ${n * stride} floats ([${n}, ${channels}, ${height}, ${width}]) and outLabels of ${n}, ` +
        `got ${outImages.length} and ${outLabels.length}`,
    );
  }
  const { augment, keys } = options;
  const augmentation = options.augmentation ?? 'crop-flip';
  if (!AUGMENTATIONS.includes(augmentation)) throw new RangeError(`fillBatch: augmentation must be one of ${AUGMENTATIONS.join(', ')}, got ${String(augmentation)}`);
  if (augment && augmentation === 'alternating-flip-translate' && Math.min(height, width) <= ALTERNATING_TRANSLATE) {
    throw new RangeError(`fillBatch: 'alternating-flip-translate' reflects shifts of up to ${ALTERNATING_TRANSLATE} pixels, so images need sides of at least ${ALTERNATING_TRANSLATE + 1}; these are ${height}x${width}`);
  }
  if (keys && keys.length < end) throw new RangeError(`fillBatch: ${keys.length} keys for the indices up to ${end}`);
  const seed = options.seed ?? 0;
  const epoch = options.epoch ?? 0;
  if (augment && (!Number.isSafeInteger(options.seed) || !Number.isInteger(options.epoch) || epoch < 0)) {
    throw new RangeError(`fillBatch: augment needs an integer seed and a non-negative integer epoch, got seed ${options.seed}, epoch ${options.epoch}`);
  }
  const normalization = options.normalization ?? CIFAR10_NORMALIZATION;
  if (normalization.mean.length !== channels) {
    throw new RangeError(`fillBatch: the normalization has ${normalization.mean.length} channels, the images ${channels}`);
  }
  const table = normalizationTable(normalization);
  const { images, labels, count } = set;
  const plane = height * width;
  const pad = cropPadding(Math.min(height, width));

  for (let row = 0; row < n; row++) {
    const sample = indices[start + row];
    if (!(sample >= 0 && sample < count && Number.isInteger(sample))) {
      throw new RangeError(`fillBatch: index ${sample} (position ${start + row}) is outside the ${count} images of the set`);
    }
    outLabels[row] = labels[sample];
    const src = sample * stride;
    const dst = row * stride;
    if (!augment) {
      for (let c = 0; c < channels; c++) {
        const t = c * 256;
        const s = src + c * plane;
        const d = dst + c * plane;
        for (let p = 0; p < plane; p++) outImages[d + p] = table[t + images[s + p]];
      }
      continue;
    }
    const key = keys ? keys[start + row] : sample;
    if (augmentation === 'alternating-flip-translate') {
      const mirrored = Rng.forKey(seed, FLIP_STREAM, key).int(2) === 1;
      const shifts = Rng.forKey(seed, epoch, key);
      const dy = shifts.int(2 * ALTERNATING_TRANSLATE + 1) - ALTERNATING_TRANSLATE;
      const dx = shifts.int(2 * ALTERNATING_TRANSLATE + 1) - ALTERNATING_TRANSLATE;
      writeTranslated(set, src, outImages, dst, table, { dy, dx, mirrored, oddEpoch: epoch % 2 === 1 });
      continue;
    }
    const rng = Rng.forKey(seed, epoch, key);
    const dy = rng.int(2 * pad + 1) - pad;
    const dx = rng.int(2 * pad + 1) - pad;
    const flip = rng.int(2) === 1;
    writeCropped(set, src, outImages, dst, table, dy, dx, flip);
  }
}

/**
 * Output pixel (y, x) takes source pixel (y + dy, x + dx), or (y + dy, W - 1 - x + dx) when
 * flipped; outside the source it is the padding value. The in-range columns are worked out once
 * per image so the inner loops have no bounds tests.
 */
function writeCropped(
  set: ImageSet,
  src: number,
  out: Float32Array,
  dst: number,
  table: Float32Array,
  dy: number,
  dx: number,
  flip: boolean,
): void {
  const { images, channels, height: H, width: W } = set;
  const plane = H * W;
  const xLo = flip ? Math.max(0, dx) : Math.max(0, -dx);
  const xHi = flip ? Math.min(W, W + dx) : Math.min(W, W - dx);
  for (let c = 0; c < channels; c++) {
    const t = c * 256;
    const pad = table[t];
    const source = src + c * plane;
    for (let y = 0; y < H; y++) {
      const d = dst + c * plane + y * W;
      const sy = y + dy;
      if (sy < 0 || sy >= H) {
        out.fill(pad, d, d + W);
        continue;
      }
      const row = source + sy * W;
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

/** Index i of a side of `n` pixels reflected at the border without repeating the edge (PyTorch's 'reflect' padding): -1 -> 1, n -> n - 2. */
function reflect(i: number, n: number): number {
  return i < 0 ? -i : i >= n ? 2 * (n - 1) - i : i;
}

let columnScratch = new Int32Array(0);

/** One image's draws under 'alternating-flip-translate'. */
interface TranslatedView {
  /** Shift in -ALTERNATING_TRANSLATE..ALTERNATING_TRANSLATE on each axis. */
  dy: number;
  dx: number;
  /** The image's once-per-run mirror. */
  mirrored: boolean;
  /** Odd epochs mirror every image on top of that. */
  oddEpoch: boolean;
}

/**
 * airbench94's training view of an image, as its loader builds it: the image, mirrored when
 * `mirrored` (its once-per-run flip), reflect-padded by ALTERNATING_TRANSLATE and cropped back
 * to its size at offset (dy, dx) from the centre, so output pixel (y, x) is the mirrored image's
 * (reflect(y + dy), reflect(x + dx)); then mirrored as a whole when `oddEpoch`. The source
 * column of every output column is worked out once per image.
 */
function writeTranslated(set: ImageSet, src: number, out: Float32Array, dst: number, table: Float32Array, view: TranslatedView): void {
  const { images, channels, height: H, width: W } = set;
  const { dy, dx, mirrored, oddEpoch } = view;
  const plane = H * W;
  if (columnScratch.length < W) columnScratch = new Int32Array(W);
  const columns = columnScratch;
  for (let x = 0; x < W; x++) {
    const c = reflect((oddEpoch ? W - 1 - x : x) + dx, W);
    columns[x] = mirrored ? W - 1 - c : c;
  }
  for (let c = 0; c < channels; c++) {
    const t = c * 256;
    const source = src + c * plane;
    for (let y = 0; y < H; y++) {
      const d = dst + c * plane + y * W;
      const row = source + reflect(y + dy, H) * W;
      for (let x = 0; x < W; x++) out[d + x] = table[t + images[row + columns[x]]];
    }
  }
}
