import { InvalidArgumentError } from 'commander';

/**
 * Parsers for commander options. Each throws InvalidArgumentError, which commander turns into
 * `error: option '--lr <number>' argument 'abc' is invalid. <our message>` and exit code 1.
 */

export function integerFlag(flag: string, min: number, max = Number.MAX_SAFE_INTEGER): (value: string) => number {
  return (value: string) => {
    const trimmed = value.trim();
    const n = Number(trimmed);
    if (trimmed === '' || !Number.isInteger(n)) throw new InvalidArgumentError(`${flag} expects a whole number, got '${value}'.`);
    if (n < min || n > max) {
      const range = max === Number.MAX_SAFE_INTEGER ? `at least ${min}` : `between ${min} and ${max}`;
      throw new InvalidArgumentError(`${flag} must be ${range}, got ${n}.`);
    }
    return n;
  };
}

export function numberFlag(flag: string, options: { min?: number; max?: number; minExclusive?: boolean; maxExclusive?: boolean } = {}): (value: string) => number {
  return (value: string) => {
    const trimmed = value.trim();
    const n = Number(trimmed);
    if (trimmed === '' || !Number.isFinite(n)) throw new InvalidArgumentError(`${flag} expects a finite number, got '${value}'.`);
    if (options.min !== undefined) {
      if (options.minExclusive ? n <= options.min : n < options.min) {
        throw new InvalidArgumentError(`${flag} must be ${options.minExclusive ? 'greater than' : 'at least'} ${options.min}, got ${n}.`);
      }
    }
    if (options.max !== undefined && (options.maxExclusive ? n >= options.max : n > options.max)) {
      throw new InvalidArgumentError(`${flag} must be ${options.maxExclusive ? 'below' : 'at most'} ${options.max}, got ${n}.`);
    }
    return n;
  };
}

export function choiceFlag<T extends string>(flag: string, choices: readonly T[]): (value: string) => T {
  return (value: string) => {
    if (!(choices as readonly string[]).includes(value)) {
      throw new InvalidArgumentError(`${flag} must be one of ${choices.join(', ')}; got '${value}'.`);
    }
    return value as T;
  };
}

const SIZE_UNITS: Record<string, number> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };

/** A size in bytes: a whole number with an optional K, M, G or T suffix (powers of 1024), e.g. 256M. */
export function sizeFlag(flag: string, min = 1): (value: string) => number {
  return (value: string) => {
    const match = /^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)i?B?\s*$/i.exec(value);
    if (!match) throw new InvalidArgumentError(`${flag} expects a size such as 256M, 2G or 1048576 (bytes), got '${value}'.`);
    const n = Math.floor(Number(match[1]) * SIZE_UNITS[match[2].toUpperCase()]);
    if (!Number.isSafeInteger(n) || n < min) throw new InvalidArgumentError(`${flag} must be at least ${min} bytes, got '${value}'.`);
    return n;
  };
}
