/** The shape of every image of a set: `channels` planes of `height x width` bytes (square: height = width = R). */
export interface ImageShape {
  readonly channels: number;
  readonly height: number;
  readonly width: number;
}

/** CIFAR-10's images: 3 x 32 x 32. The default shape of `allocateImageSet`. */
export const CIFAR10_SHAPE: ImageShape = Object.freeze({ channels: 3, height: 32, width: 32 });

/**
 * A set of 8-bit images, planar CHW per image (as on disk for CIFAR-10), with one label byte per
 * image. `images` and `labels` live on SharedArrayBuffers: posting an ImageSet to a worker thread
 * (postMessage, piscina) shares the memory instead of copying it, so N workers read one copy.
 */
export interface ImageSet extends ImageShape {
  readonly images: Uint8Array;
  readonly labels: Uint8Array;
  readonly count: number;
}

/** Bytes of one image of this shape: channels x height x width. */
export function imageBytes(shape: ImageShape): number {
  return shape.channels * shape.height * shape.width;
}

/** An empty ImageSet of `count` images of `shape` (default 3 x 32 x 32) on fresh SharedArrayBuffers. */
export function allocateImageSet(count: number, shape: ImageShape = CIFAR10_SHAPE): ImageSet {
  if (!Number.isInteger(count) || count < 0) {
    throw new RangeError(`allocateImageSet: count must be a non-negative integer, got ${count}`);
  }
  const { channels, height, width } = shape;
  if (![channels, height, width].every((n) => Number.isInteger(n) && n > 0)) {
    throw new RangeError(`allocateImageSet: channels, height and width must be positive integers, got ${channels} x ${height} x ${width}`);
  }
  return {
    images: new Uint8Array(new SharedArrayBuffer(count * channels * height * width)),
    labels: new Uint8Array(new SharedArrayBuffer(count)),
    count,
    channels,
    height,
    width,
  };
}

/** True when both arrays are views of SharedArrayBuffers (so workers will not get copies). */
export function isSharedImageSet(set: ImageSet): boolean {
  // By tag, not instanceof: a buffer received from another realm (vm, jest) has another constructor.
  const shared = (b: ArrayBufferLike) => Object.prototype.toString.call(b) === '[object SharedArrayBuffer]';
  return shared(set.images.buffer) && shared(set.labels.buffer);
}

/**
 * Checks that an object received from another thread is a well-formed ImageSet (sizes agree),
 * so a worker fails with a clear message instead of reading garbage.
 */
export function assertImageSet(set: ImageSet, what = 'ImageSet'): void {
  if (!set || !(set.images instanceof Uint8Array) || !(set.labels instanceof Uint8Array)) {
    throw new TypeError(`${what}: expected { images: Uint8Array, labels: Uint8Array, count, channels, height, width }, got ${Object.prototype.toString.call(set)}`);
  }
  if (![set.channels, set.height, set.width].every((n) => Number.isInteger(n) && n > 0)) {
    throw new RangeError(`${what}: channels, height and width must be positive integers, got ${set.channels} x ${set.height} x ${set.width}`);
  }
  const bytes = imageBytes(set);
  if (set.images.length !== set.count * bytes || set.labels.length !== set.count) {
    throw new RangeError(
      `${what}: count ${set.count} of ${set.channels}x${set.height}x${set.width} images needs ${set.count * bytes} image bytes and ${set.count} labels, ` +
        `got ${set.images.length} and ${set.labels.length}`,
    );
  }
}

/** One image (channels x height x width planar bytes) as a view, no copy. */
export function imageAt(set: ImageSet, index: number): Uint8Array {
  if (!Number.isInteger(index) || index < 0 || index >= set.count) {
    throw new RangeError(`imageAt: index ${index} is outside 0..${set.count - 1}`);
  }
  const bytes = imageBytes(set);
  return set.images.subarray(index * bytes, (index + 1) * bytes);
}

/** Number of images per label (length = `classes`). */
export function countPerClass(set: ImageSet, classes: number): number[] {
  const counts = new Array<number>(classes).fill(0);
  for (let i = 0; i < set.count; i++) {
    const label = set.labels[i];
    if (label >= classes) throw new RangeError(`countPerClass: image ${i} has label ${label}, expected < ${classes}`);
    counts[label]++;
  }
  return counts;
}

/**
 * A new shared set of the images `indices` of `set` (copied, in that order), labelled
 * `labelOf(oldLabel)` (default: unchanged).
 */
export function takeImages(set: ImageSet, indices: readonly number[], labelOf: (label: number) => number = (l) => l): ImageSet {
  const bytes = imageBytes(set);
  const out = allocateImageSet(indices.length, set);
  indices.forEach((src, dst) => {
    out.labels[dst] = labelOf(set.labels[src]);
    out.images.set(set.images.subarray(src * bytes, (src + 1) * bytes), dst * bytes);
  });
  return out;
}
