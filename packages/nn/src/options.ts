/**
 * Rejects misspelt or unsupported options with a message that lists what is accepted, so
 * `new Conv2d(3, 8, 3, { strides: 2 })` fails loudly instead of silently using stride 1.
 */
export function checkOptions(what: string, options: object | undefined, allowed: readonly string[]): void {
  if (options === undefined) return;
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new TypeError(`${what}: options must be an object, got ${JSON.stringify(options)}`);
  }
  const unknown = Object.keys(options).filter((k) => !allowed.includes(k));
  if (unknown.length > 0) {
    throw new RangeError(`${what}: unknown option${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `'${k}'`).join(', ')}; expected one of ${allowed.join(', ')}`);
  }
}

export function checkPositiveInteger(what: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new RangeError(`${what} must be a positive integer, got ${JSON.stringify(value)}`);
  }
  return value;
}

export function checkNonNegativeInteger(what: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw new RangeError(`${what} must be a non-negative integer, got ${JSON.stringify(value)}`);
  }
  return value;
}

/** A size given as `k` or `[kH, kW]`, as PyTorch accepts. */
export type Size2 = number | readonly [number, number];

export function toPair(what: string, value: Size2, allowZero = false): [number, number] {
  const pair: [unknown, unknown] = Array.isArray(value) ? [value[0], value[1]] : [value, value];
  if (Array.isArray(value) && value.length !== 2) {
    throw new RangeError(`${what} must be a number or a pair [height, width], got ${JSON.stringify(value)}`);
  }
  const check = allowZero ? checkNonNegativeInteger : checkPositiveInteger;
  return [check(what, pair[0]), check(what, pair[1])];
}

/** An optional flag: `fallback` when absent, else it must be a boolean. */
export function checkBoolean(what: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new TypeError(`${what} must be true or false, got ${JSON.stringify(value)}`);
  return value;
}

export function checkFiniteNumber(what: string, value: unknown, min = -Infinity): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min) {
    // String, not JSON.stringify, for numbers: JSON writes NaN and Infinity as null.
    const got = typeof value === 'number' ? String(value) : JSON.stringify(value);
    throw new RangeError(`${what} must be a finite number${min > -Infinity ? ` >= ${min}` : ''}, got ${got}`);
  }
  return value;
}

/** A layer's `init` option: one of `allowed`, default 'default'. */
export function checkWeightInit<T extends string>(what: string, value: unknown, allowed: readonly T[]): T {
  if (value === undefined) return allowed[0];
  if (!(allowed as readonly unknown[]).includes(value)) throw new RangeError(`${what}: init must be one of ${allowed.join(', ')}, got ${JSON.stringify(value)}`);
  return value as T;
}

/** A layer's `frozen` option: true, false (default) or a non-empty list of 'weight' / 'bias'. */
export function checkFrozen(what: string, value: unknown): boolean | ('weight' | 'bias')[] {
  if (value === undefined) return false;
  if (typeof value === 'boolean') return value;
  if (Array.isArray(value) && value.length > 0 && value.every((v) => v === 'weight' || v === 'bias')) return (value as ('weight' | 'bias')[]).slice();
  throw new RangeError(`${what}: frozen must be true, false or a non-empty list of 'weight' and 'bias', got ${JSON.stringify(value)}`);
}
