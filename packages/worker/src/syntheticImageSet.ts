import { allocateImageSet, type ImageSet } from '@convoy/data';
import { Rng } from '@convoy/tensor';

/**
 * A learnable in-memory ImageSet for examples, tests and benchmarks that must not need CIFAR-10 on
 * disk: image i has label i % classes and is noise around a per-class colour and stripe pattern
 * (so a few steps of training lower the loss). Side `resolution` (default 32, CIFAR-10's). Deterministic
 * in `seed`; on SharedArrayBuffers.
 */
export function syntheticImageSet(options: { count: number; classes?: number; seed?: number; resolution?: number }): ImageSet {
  const classes = options.classes ?? 10;
  if (!Number.isInteger(classes) || classes < 1 || classes > 256) throw new RangeError(`syntheticImageSet: classes must be 1..256, got ${classes}`);
  const side = options.resolution ?? 32;
  const set = allocateImageSet(options.count, side === 32 ? undefined : { channels: 3, height: side, width: side });
  const rng = new Rng(options.seed ?? 1);
  const plane = side * side;
  for (let i = 0; i < set.count; i++) {
    const label = i % classes;
    set.labels[i] = label;
    for (let c = 0; c < 3; c++) {
      const base = 40 + ((label * 37 + c * 71) % 160);
      for (let p = 0; p < plane; p++) {
        const stripe = (Math.floor(p / side) + label) % (2 + (label % 3)) === 0 ? 40 : 0;
        const v = base + stripe + Math.floor(rng.uniform() * 48) - 24;
        set.images[i * 3 * plane + c * plane + p] = Math.max(0, Math.min(255, v));
      }
    }
  }
  return set;
}
