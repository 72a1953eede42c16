/** A half-open range [start, end). */
export interface Range {
  start: number;
  end: number;
}

/**
 * Splits [0, total) into `parts` contiguous ranges whose sizes differ by at most one (the first
 * `total % parts` ranges get the extra element). Some ranges are empty when total < parts.
 * Used for both the batch shards (one per thread) and the parameter chunks (see protocol.ts).
 */
export function splitRange(total: number, parts: number): Range[] {
  if (!Number.isInteger(total) || total < 0) throw new RangeError(`splitRange: total must be a non-negative integer, got ${total}`);
  if (!Number.isInteger(parts) || parts < 1) throw new RangeError(`splitRange: parts must be a positive integer, got ${parts}`);
  const base = Math.floor(total / parts);
  const extra = total % parts;
  const ranges: Range[] = [];
  let start = 0;
  for (let k = 0; k < parts; k++) {
    const end = start + base + (k < extra ? 1 : 0);
    ranges.push({ start, end });
    start = end;
  }
  return ranges;
}

/**
 * Like splitRange, but every boundary except the last is a multiple of `align` elements, so two
 * threads writing neighbouring chunks of a Float32Array never share a cache line (align 16 = 64 bytes).
 */
export function alignedChunks(total: number, parts: number, align = 16): Range[] {
  const blocks = Math.ceil(total / align);
  return splitRange(blocks, parts).map(({ start, end }) => ({ start: Math.min(start * align, total), end: Math.min(end * align, total) }));
}
