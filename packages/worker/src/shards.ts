import { shardBounds } from '@convoy/data';

/** A half-open range [start, end). */
export interface Range {
  start: number;
  end: number;
}

/**
 * Splits [0, total) into `parts` contiguous ranges whose sizes differ by at most one (the first
 * `total % parts` ranges get the extra element; data's shardBounds, which a batch split over
 * threads or ranks uses too). Some ranges are empty when total < parts. Used for both the batch
 * shards (one per thread) and the parameter chunks (see protocol.ts).
 */
export function splitRange(total: number, parts: number): Range[] {
  if (!Number.isInteger(parts) || parts < 1) throw new RangeError(`splitRange: parts must be a positive integer, got ${parts}`);
  return Array.from({ length: parts }, (_, k) => shardBounds(total, parts, k));
}

/**
 * Like splitRange, but every boundary except the last is a multiple of `align` elements, so two
 * threads writing neighbouring chunks of a Float32Array never share a cache line (align 16 = 64 bytes).
 */
export function alignedChunks(total: number, parts: number, align = 16): Range[] {
  const blocks = Math.ceil(total / align);
  return splitRange(blocks, parts).map(({ start, end }) => ({ start: Math.min(start * align, total), end: Math.min(end * align, total) }));
}

/**
 * Splits a batch of `total` images into `parts` contiguous shards made of whole ghost groups of
 * `groupSize` images (BatchNorm's groups; 1 for a network without BatchNorm, which is splitRange):
 * the groups are dealt out as splitRange deals images, so a group never straddles two shards. Only
 * the batch's last group may be short. Some shards are empty when there are fewer groups than parts.
 */
export function splitBatch(total: number, parts: number, groupSize = 1): Range[] {
  if (!Number.isInteger(groupSize) || groupSize < 1) throw new RangeError(`splitBatch: groupSize must be a positive integer, got ${groupSize}`);
  if (groupSize === 1) return splitRange(total, parts);
  return splitRange(Math.ceil(total / groupSize), parts).map(({ start, end }) => ({
    start: Math.min(start * groupSize, total),
    end: Math.min(end * groupSize, total),
  }));
}
