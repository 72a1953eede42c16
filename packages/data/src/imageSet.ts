import { CIFAR10_CHANNELS, CIFAR10_HEIGHT, CIFAR10_IMAGE_BYTES, CIFAR10_WIDTH } from './cifar10Format';

/**
 * A set of 8-bit images, planar CHW per image (as on disk), with one label byte per image.
 * `images` and `labels` live on SharedArrayBuffers: posting an ImageSet to a worker thread
 * (postMessage, piscina) shares the memory instead of copying it, so N workers read one copy.
 */
export interface ImageSet {
  readonly images: Uint8Array;
  readonly labels: Uint8Array;
  readonly count: number;
  readonly channels: 3;
  readonly height: 32;
  readonly width: 32;
}

/** An empty ImageSet of `count` images on fresh SharedArrayBuffers. */
export function allocateImageSet(count: number): ImageSet {
  if (!Number.isInteger(count) || count < 0) {
    throw new RangeError(`allocateImageSet: count must be a non-negative integer, got ${count}`);
  }
  return {
    images: new Uint8Array(new SharedArrayBuffer(count * CIFAR10_IMAGE_BYTES)),
    labels: new Uint8Array(new SharedArrayBuffer(count)),
    count,
    channels: CIFAR10_CHANNELS,
    height: CIFAR10_HEIGHT,
    width: CIFAR10_WIDTH,
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
    throw new TypeError(`${what}: expected { images: Uint8Array, labels: Uint8Array, count }, got ${Object.prototype.toString.call(set)}`);
  }
  if (set.images.length !== set.count * CIFAR10_IMAGE_BYTES || set.labels.length !== set.count) {
    throw new RangeError(
      `${what}: count ${set.count} needs ${set.count * CIFAR10_IMAGE_BYTES} image bytes and ${set.count} labels, ` +
        `got ${set.images.length} and ${set.labels.length}`,
    );
  }
}

/** One image (3x32x32 planar bytes) as a view, no copy. */
export function imageAt(set: ImageSet, index: number): Uint8Array {
  if (!Number.isInteger(index) || index < 0 || index >= set.count) {
    throw new RangeError(`imageAt: index ${index} is outside 0..${set.count - 1}`);
  }
  return set.images.subarray(index * CIFAR10_IMAGE_BYTES, (index + 1) * CIFAR10_IMAGE_BYTES);
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
