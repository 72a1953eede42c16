/**
 * Seeded random numbers: xoshiro128** (32-bit words, so it runs on Math.imul without BigInt).
 * The whole state is four uint32 words, so it can be checkpointed and restored exactly.
 */

const TWO_POW_32 = 4294967296;

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** MurmurHash3's finaliser: a bijection on uint32 with full avalanche. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Splits integers (up to 2^53 in magnitude) into uint32 words, low word first. */
function toWords(values: number[], what: string): number[] {
  const words: number[] = [];
  for (const v of values) {
    if (!Number.isSafeInteger(v)) {
      throw new RangeError(`${what}: seeds and keys must be safe integers, got ${v}`);
    }
    words.push(v >>> 0, Math.floor(v / TWO_POW_32) >>> 0);
  }
  return words;
}

/** MurmurHash3 (x86, 32-bit) over words, with `lane` as its seed: four lanes give 128 state bits. */
function hashWords(words: number[], lane: number): number {
  let h = fmix32(0x9e3779b9 + Math.imul(lane, 0x7f4a7c15));
  for (const w of words) {
    let k = Math.imul(w, 0xcc9e2d51);
    k = rotl(k, 15);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = rotl(h, 13);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  h ^= words.length * 4;
  return fmix32(h);
}

export class Rng {
  private s0 = 0;
  private s1 = 0;
  private s2 = 0;
  private s3 = 0;

  /** A generator for `seed` (any safe integer). `new Rng(s)` draws the same stream as `Rng.forKey(s)`. */
  constructor(seed: number) {
    this.seedFromWords(toWords([seed], 'Rng'));
  }

  /**
   * An independent stream derived by hashing (seed, ...keys), e.g. `Rng.forKey(seed, epoch, sample)`
   * for per-sample augmentation: the draw depends only on the key, never on which worker asks.
   */
  static forKey(seed: number, ...keys: number[]): Rng {
    const rng = new Rng(0);
    rng.seedFromWords(toWords([seed, ...keys], 'Rng.forKey'));
    return rng;
  }

  /** Restores a generator from `getState()`: it continues exactly where the original stood. */
  static fromState(state: readonly number[]): Rng {
    if (!Array.isArray(state) || state.length !== 4 || !state.every((w) => Number.isInteger(w) && w >= 0 && w < TWO_POW_32)) {
      throw new RangeError(`Rng.fromState: expected 4 uint32 words from getState(), got ${JSON.stringify(state)}`);
    }
    if (state.every((w) => w === 0)) {
      throw new RangeError('Rng.fromState: the all-zero state is not a valid xoshiro128** state');
    }
    const rng = new Rng(0);
    [rng.s0, rng.s1, rng.s2, rng.s3] = state.map((w) => w | 0);
    return rng;
  }

  /** The four uint32 state words (plain numbers, JSON/msgpack friendly). */
  getState(): number[] {
    return [this.s0 >>> 0, this.s1 >>> 0, this.s2 >>> 0, this.s3 >>> 0];
  }

  private seedFromWords(words: number[]): void {
    this.s0 = hashWords(words, 0) | 0;
    this.s1 = hashWords(words, 1) | 0;
    this.s2 = hashWords(words, 2) | 0;
    this.s3 = hashWords(words, 3) | 0;
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** Next uint32 in [0, 2^32). */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9);
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result >>> 0;
  }

  /** Uniform double in [0, 1) with 53 random bits. */
  uniform(): number {
    const hi = this.nextUint32() >>> 5; // 27 bits
    const lo = this.nextUint32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform double in [low, high). */
  uniformRange(low: number, high: number): number {
    return low + (high - low) * this.uniform();
  }

  /** Standard normal (Box-Muller; one normal per call so the state stays four words). */
  normal(): number {
    const u1 = 1 - this.uniform(); // (0, 1]: log never sees 0
    const u2 = this.uniform();
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }

  /** Unbiased integer in [0, n), 1 <= n <= 2^32 (rejection sampling). */
  int(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > TWO_POW_32) {
      throw new RangeError(`Rng.int: n must be an integer in [1, 2^32], got ${n}`);
    }
    const limit = TWO_POW_32 - (TWO_POW_32 % n);
    let x = this.nextUint32();
    while (x >= limit) x = this.nextUint32();
    return x % n;
  }

  /** Fisher-Yates shuffle in place. */
  shuffle<T extends { length: number; [i: number]: unknown }>(array: T): T {
    for (let i = array.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = array[i];
      array[i] = array[j];
      array[j] = tmp;
    }
    return array;
  }
}
