import { biasUniform, kaimingUniform, Rng } from '../src';

function draw(rng: Rng, n: number): number[] {
  return Array.from({ length: n }, () => rng.nextUint32());
}

/** The first two raw moments of n draws of `sample`. */
function moments(n: number, sample: () => number): { mean: number; meanSquare: number } {
  let sum = 0;
  let sumOfSquares = 0;
  for (let i = 0; i < n; i++) {
    const x = sample();
    sum += x;
    sumOfSquares += x * x;
  }
  return { mean: sum / n, meanSquare: sumOfSquares / n };
}

describe('Rng', () => {
  it('is deterministic per seed and differs across seeds', () => {
    expect(draw(new Rng(42), 8)).toEqual(draw(new Rng(42), 8));
    expect(draw(new Rng(42), 8)).not.toEqual(draw(new Rng(43), 8));
    // seeds above 2^32 are not truncated to their low word
    expect(draw(new Rng(2 ** 32 + 1), 4)).not.toEqual(draw(new Rng(1), 4));
  });

  it('new Rng(s) draws the same stream as Rng.forKey(s)', () => {
    expect(draw(new Rng(5), 6)).toEqual(draw(Rng.forKey(5), 6));
  });

  it('forKey streams depend only on the key, and each key gives a different stream', () => {
    expect(draw(Rng.forKey(1, 3, 1000), 4)).toEqual(draw(Rng.forKey(1, 3, 1000), 4));
    const seen = new Set<string>();
    for (let epoch = 0; epoch < 4; epoch++) {
      for (let sample = 0; sample < 500; sample++) seen.add(draw(Rng.forKey(7, epoch, sample), 2).join(','));
    }
    expect(seen.size).toBe(2000);
    // (1, 23) and (12, 3) must not collide as they would with naive string concatenation
    expect(draw(Rng.forKey(0, 1, 23), 2)).not.toEqual(draw(Rng.forKey(0, 12, 3), 2));
  });

  it('getState/fromState resumes exactly', () => {
    const a = new Rng(9);
    draw(a, 13);
    const b = Rng.fromState(JSON.parse(JSON.stringify(a.getState())));
    expect(draw(b, 10)).toEqual(draw(a, 10));
    expect(() => Rng.fromState([1, 2, 3])).toThrow(/fromState.*4 uint32 words.*\[1,2,3\]/);
    expect(() => Rng.fromState([0, 0, 0, 0])).toThrow(/fromState.*all-zero/);
  });

  it('uniform is in [0,1) with mean 1/2 and variance 1/12', () => {
    const rng = new Rng(1);
    const { mean, meanSquare } = moments(100000, () => {
      const u = rng.uniform();
      expect(u >= 0 && u < 1).toBe(true);
      return u;
    });
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.005);
    expect(Math.abs(meanSquare - mean ** 2 - 1 / 12)).toBeLessThan(0.002);
  });

  it('normal has mean 0 and variance 1', () => {
    const rng = new Rng(2);
    const { mean, meanSquare } = moments(100000, () => rng.normal());
    expect(Math.abs(mean)).toBeLessThan(0.02);
    expect(Math.abs(meanSquare - 1)).toBeLessThan(0.02);
  });

  it('int(n) is in range and roughly uniform; rejects bad n', () => {
    const rng = new Rng(3);
    const counts = new Array(7).fill(0);
    for (let i = 0; i < 70000; i++) counts[rng.int(7)]++;
    for (const c of counts) expect(Math.abs(c - 10000)).toBeLessThan(500);
    expect(() => rng.int(0)).toThrow(/Rng\.int: n .*got 0/);
  });

  it('shuffle is a permutation', () => {
    const a = Array.from({ length: 50 }, (_, i) => i);
    new Rng(4).shuffle(a);
    expect(a.slice().sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(a).not.toEqual(Array.from({ length: 50 }, (_, i) => i));
  });
});

describe('initialisers', () => {
  it('kaimingUniform: bound 1/sqrt(fanIn), uniform variance bound^2/3', () => {
    const w = new Float32Array(20000);
    kaimingUniform(w, 27, new Rng(5));
    const bound = 1 / Math.sqrt(27);
    let s2 = 0;
    for (const v of w) {
      expect(Math.abs(v)).toBeLessThanOrEqual(bound);
      s2 += v * v;
    }
    expect(Math.abs(s2 / w.length / ((bound * bound) / 3) - 1)).toBeLessThan(0.03);
    expect(Math.max(...w)).toBeGreaterThan(bound * 0.99);
  });

  it('biasUniform: bound 1/sqrt(fanIn)', () => {
    const b = new Float32Array(5000);
    biasUniform(b, 128, new Rng(6));
    expect(Math.max(...Array.from(b, Math.abs))).toBeLessThanOrEqual(1 / Math.sqrt(128));
    expect(Math.max(...Array.from(b, Math.abs))).toBeGreaterThan(0.99 / Math.sqrt(128));
  });

  it('rejects a bad fan', () => {
    expect(() => kaimingUniform(new Float32Array(3), 0, new Rng(1))).toThrow(/fan .*got 0/);
  });
});
