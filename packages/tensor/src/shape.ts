/** Shape helpers: sizes, comparisons and the errors every package uses to report a mismatch. */

export type Shape = readonly number[];

/** `[32, 3, 3, 3]`: how shapes appear in every error message. */
export function formatShape(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}

/** Throws unless every dimension is a non-negative integer. */
export function validateShape(shape: Shape, what = 'tensor'): void {
  if (!Array.isArray(shape)) {
    throw new TypeError(`${what}: shape must be an array of non-negative integers, got ${String(shape)}`);
  }
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) {
      throw new RangeError(`${what}: shape ${formatShape(shape)} has dimension ${d}; every dimension must be a non-negative integer`);
    }
  }
}

/** Number of elements of a shape (1 for the scalar shape []). */
export function shapeSize(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function shapesEqual(a: Shape, b: Shape): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Throws when `actual` differs from `expected`, naming both:
 * `conv1.weight: expected shape [32, 3, 3, 3], got [32, 3, 3]`.
 * A `-1` in `expected` matches any size in that dimension (e.g. the batch).
 */
export function assertShape(actual: Shape, expected: Shape, what: string): void {
  let ok = actual.length === expected.length;
  for (let i = 0; ok && i < expected.length; i++) {
    if (expected[i] !== -1 && expected[i] !== actual[i]) ok = false;
  }
  if (!ok) {
    const exp = expected.map((d) => (d === -1 ? 'N' : String(d))).join(', ');
    throw new RangeError(`${what}: expected shape [${exp}], got ${formatShape(actual)}`);
  }
}

/** Throws when two tensors that must match do not, naming both shapes. */
export function assertSameShape(a: { shape: Shape }, b: { shape: Shape }, what: string): void {
  if (!shapesEqual(a.shape, b.shape)) {
    throw new RangeError(`${what}: shapes differ: ${formatShape(a.shape)} vs ${formatShape(b.shape)}`);
  }
}
