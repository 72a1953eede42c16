import { Rng } from '@convoy/tensor';
import { allocateImageSet, CIFAR10_NORMALIZATION, computeChannelStats, cropPadding, fillBatch, ImageSet, Normalization } from '../src';
import { syntheticSet } from './helpers';

const IMG = 3 * 32 * 32;

/** Independent, slow reference: build the 40x40 zero-padded image, crop at (top, left), then flip. */
function referenceAugmented(set: ImageSet, sample: number, seed: number, epoch: number, norm: Normalization): Float32Array {
  const rng = Rng.forKey(seed, epoch, sample);
  const top = rng.int(9);
  const left = rng.int(9);
  const flip = rng.int(2) === 1;
  const out = new Float32Array(IMG);
  for (let c = 0; c < 3; c++) {
    const padded: number[][] = Array.from({ length: 40 }, () => new Array(40).fill(0));
    for (let y = 0; y < 32; y++) for (let x = 0; x < 32; x++) padded[y + 4][x + 4] = set.images[sample * IMG + c * 1024 + y * 32 + x];
    for (let y = 0; y < 32; y++) {
      for (let x = 0; x < 32; x++) {
        const cx = flip ? 31 - x : x;
        const v = padded[y + top][cx + left];
        out[c * 1024 + y * 32 + x] = (v / 255 - norm.mean[c]) / norm.std[c];
      }
    }
  }
  return out;
}

describe('fillBatch', () => {
  const set = syntheticSet(40);

  test('without augmentation: (pixel/255 - mean) / std per channel, labels copied, rows in index order', () => {
    const indices = new Uint32Array([7, 3, 12]);
    const out = new Float32Array(3 * IMG);
    const labels = new Int32Array(3);
    fillBatch(set, indices, 0, 3, out, labels, { augment: false });
    const { mean, std } = CIFAR10_NORMALIZATION;
    indices.forEach((sample, row) => {
      expect(labels[row]).toBe(set.labels[sample]);
      for (const b of [0, 1, 1023, 1024, 2047, 2048, 3071]) {
        const c = Math.floor(b / 1024);
        expect(out[row * IMG + b]).toBeCloseTo((set.images[sample * IMG + b] / 255 - mean[c]) / std[c], 5);
      }
    });
  });

  test('keys: a sample copied elsewhere is augmented by its key, exactly as at its own index', () => {
    const whole = new Float32Array(3 * IMG);
    fillBatch(set, new Uint32Array([5, 17, 30]), 0, 3, whole, new Int32Array(3), { augment: true, seed: 4, epoch: 1 });
    // The same three images copied to the front of a small set, keyed by where they came from.
    const small = allocateImageSet(3);
    [5, 17, 30].forEach((src, dst) => {
      small.images.set(set.images.subarray(src * IMG, (src + 1) * IMG), dst * IMG);
      small.labels[dst] = set.labels[src];
    });
    const copied = new Float32Array(3 * IMG);
    fillBatch(small, new Uint32Array([0, 1, 2]), 0, 3, copied, new Int32Array(3), { augment: true, seed: 4, epoch: 1, keys: [5, 17, 30] });
    expect(Array.from(copied)).toEqual(Array.from(whole));
    const unkeyed = new Float32Array(3 * IMG);
    fillBatch(small, new Uint32Array([0, 1, 2]), 0, 3, unkeyed, new Int32Array(3), { augment: true, seed: 4, epoch: 1 });
    expect(Array.from(unkeyed)).not.toEqual(Array.from(whole));
    expect(() => fillBatch(small, new Uint32Array([0, 1, 2]), 0, 3, copied, new Int32Array(3), { augment: true, seed: 4, epoch: 1, keys: [5] })).toThrow(/1 keys for the indices up to 3/);
  });

  test('augmented batch equals an independent pad-crop-flip reference for every sample', () => {
    const indices = Uint32Array.from({ length: 40 }, (_, i) => (i * 7) % 40);
    const out = new Float32Array(40 * IMG);
    const labels = new Int32Array(40);
    fillBatch(set, indices, 0, 40, out, labels, { augment: true, seed: 11, epoch: 2 });
    let flips = 0;
    for (let row = 0; row < 40; row++) {
      const sample = indices[row];
      const expected = referenceAugmented(set, sample, 11, 2, CIFAR10_NORMALIZATION);
      const got = out.subarray(row * IMG, (row + 1) * IMG);
      let maxDiff = 0;
      for (let i = 0; i < IMG; i++) maxDiff = Math.max(maxDiff, Math.abs(got[i] - expected[i]));
      expect(maxDiff).toBeLessThan(1e-6);
      const r = Rng.forKey(11, 2, sample);
      r.int(9);
      r.int(9);
      flips += r.int(2);
    }
    // 40 samples: both flip outcomes occur, so both code paths were compared.
    expect(flips).toBeGreaterThan(0);
    expect(flips).toBeLessThan(40);
  });

  test('a sample gets the same pixels whatever the batch position or shard (depends on seed, epoch, sample only)', () => {
    const order = Uint32Array.from({ length: 40 }, (_, i) => 39 - i);
    const whole = new Float32Array(40 * IMG);
    fillBatch(set, order, 0, 40, whole, new Int32Array(40), { augment: true, seed: 5, epoch: 1 });
    const shard = new Float32Array(7 * IMG);
    fillBatch(set, order, 13, 20, shard, new Int32Array(7), { augment: true, seed: 5, epoch: 1 });
    expect(Array.from(shard)).toEqual(Array.from(whole.subarray(13 * IMG, 20 * IMG)));
    const otherEpoch = new Float32Array(7 * IMG);
    fillBatch(set, order, 13, 20, otherEpoch, new Int32Array(7), { augment: true, seed: 5, epoch: 2 });
    expect(Array.from(otherEpoch)).not.toEqual(Array.from(shard));
  });

  test('padding is a black pixel after normalisation', () => {
    // Find a sample whose crop shifts down (top < 4): its first output row is padding.
    const sample = Array.from({ length: 40 }, (_, i) => i).find((i) => Rng.forKey(3, 0, i).int(9) < 4)!;
    const out = new Float32Array(IMG);
    fillBatch(set, [sample], 0, 1, out, new Int32Array(1), { augment: true, seed: 3, epoch: 0 });
    const { mean, std } = CIFAR10_NORMALIZATION;
    for (let c = 0; c < 3; c++) expect(out[c * 1024]).toBeCloseTo(-mean[c] / std[c], 5);
  });

  test('rejects bad ranges, short outputs, bad indices and missing seed with clear messages', () => {
    const out = new Float32Array(2 * IMG);
    const labels = new Int32Array(2);
    expect(() => fillBatch(set, [0, 1, 2], 0, 3, out, labels, { augment: false })).toThrow(/\b3 samples\b.*\boutImages\b.*\b9216\b/);
    expect(() => fillBatch(set, [0, 1], 1, 3, out, labels, { augment: false })).toThrow(/\[1, 3\).*\b2 indices\b/);
    expect(() => fillBatch(set, [0, 40], 0, 2, out, labels, { augment: false })).toThrow(/index 40 .* outside the 40 images/);
    expect(() => fillBatch(set, [0], 0, 1, out, labels, { augment: true })).toThrow(/augment needs an integer seed/);
    expect(() =>
      fillBatch(set, [0], 0, 1, out, labels, { augment: false, normalization: { mean: [0, 0], std: [1, 1] } }),
    ).toThrow(/\bnormalization\b.*\b2 channels\b.*\b3\b/);
    expect(() =>
      fillBatch(set, [0], 0, 1, out, labels, { augment: false, normalization: { mean: [0, 0, 0], std: [1, 0, 1] } }),
    ).toThrow(/one per channel/);
  });
});

describe('fillBatch at any C x R x R', () => {
  /** Independent reference at any shape: pad by floor(R/8), crop at (top, left), flip. */
  function reference(set: ImageSet, sample: number, seed: number, epoch: number, norm: Normalization): Float32Array {
    const { channels: C, height: R } = set;
    const p = Math.floor(R / 8);
    const rng = Rng.forKey(seed, epoch, sample);
    const top = rng.int(2 * p + 1);
    const left = rng.int(2 * p + 1);
    const flip = rng.int(2) === 1;
    const out = new Float32Array(C * R * R);
    for (let c = 0; c < C; c++) {
      for (let y = 0; y < R; y++) {
        for (let x = 0; x < R; x++) {
          const sy = y + top - p;
          const sx = (flip ? R - 1 - x : x) + left - p;
          const v = sy < 0 || sy >= R || sx < 0 || sx >= R ? 0 : set.images[sample * C * R * R + c * R * R + sy * R + sx];
          out[c * R * R + y * R + x] = (v / 255 - norm.mean[c]) / norm.std[c];
        }
      }
    }
    return out;
  }

  function patterned(count: number, channels: number, R: number): ImageSet {
    const s = allocateImageSet(count, { channels, height: R, width: R });
    for (let b = 0; b < s.images.length; b++) s.images[b] = (b * 37 + (b >> 7)) & 255;
    for (let i = 0; i < count; i++) s.labels[i] = i % 3;
    return s;
  }

  test.each([
    [3, 24],
    [1, 40],
    [3, 13],
  ])('%i channels at R=%i: crop with floor(R/8) padding and flip match the reference for every sample', (channels, R) => {
    const s = patterned(12, channels, R);
    const norm = computeChannelStats(s);
    const indices = Array.from({ length: 12 }, (_, i) => 11 - i);
    const out = new Float32Array(12 * channels * R * R);
    const labels = new Int32Array(12);
    fillBatch(s, indices, 0, 12, out, labels, { augment: true, seed: 5, epoch: 2, normalization: norm });
    indices.forEach((sample, row) => {
      expect(labels[row]).toBe(sample % 3);
      const want = reference(s, sample, 5, 2, norm);
      const got = out.subarray(row * want.length, (row + 1) * want.length);
      for (let i = 0; i < want.length; i++) if (got[i] !== want[i]) throw new Error(`sample ${sample}, float ${i}: ${got[i]} != ${want[i]}`);
    });
  });

  test('cropPadding is an eighth of the side: 4 at 32 (CIFAR unchanged), 28 at 224', () => {
    expect([cropPadding(32), cropPadding(224), cropPadding(13)]).toEqual([4, 28, 1]);
  });

  test('computeChannelStats: exact mean and std per channel of a hand-made set; a flat channel gets std 1/255', () => {
    const s = allocateImageSet(2, { channels: 2, height: 2, width: 2 });
    // channel 0 holds 0 and 255 equally (mean 0.5, std 0.5); channel 1 is 51 everywhere.
    s.images.set([0, 255, 0, 255, 51, 51, 51, 51, 255, 0, 255, 0, 51, 51, 51, 51]);
    const { mean, std } = computeChannelStats(s);
    expect(mean[0]).toBeCloseTo(0.5, 12);
    expect(std[0]).toBeCloseTo(0.5, 12);
    expect(mean[1]).toBeCloseTo(0.2, 12);
    expect(std[1]).toBeCloseTo(1 / 255, 12);
  });
});
