import { Rng } from '@convoy/tensor';
import { allocateImageSet, ALTERNATING_TRANSLATE, CIFAR10_NORMALIZATION, fillBatch, type ImageSet } from '../src';

const SIDE = 32;
const IMG = 3 * SIDE * SIDE;
const R = ALTERNATING_TRANSLATE;

/** Images of random bytes, so no two views of one image (orientation, shift) look alike. */
function randomSet(count: number): ImageSet {
  const set = allocateImageSet(count);
  const rng = new Rng(77);
  for (let i = 0; i < set.images.length; i++) set.images[i] = rng.int(256);
  for (let i = 0; i < count; i++) set.labels[i] = i % 10;
  return set;
}

/**
 * Independent reference written as airbench94's loader does it, one array operation at a time:
 * normalise, mirror (or not), pad by R with reflection (torch's F.pad 'reflect'), crop the side
 * back at (R + dy, R + dx).
 */
function referenceView(set: ImageSet, sample: number, mirrored: boolean, dy: number, dx: number): Float32Array {
  const { mean, std } = CIFAR10_NORMALIZATION;
  const out = new Float32Array(IMG);
  const P = SIDE + 2 * R;
  for (let c = 0; c < 3; c++) {
    const plane: number[][] = [];
    for (let y = 0; y < SIDE; y++) {
      const row: number[] = [];
      for (let x = 0; x < SIDE; x++) row.push((set.images[sample * IMG + c * SIDE * SIDE + y * SIDE + x] / 255 - mean[c]) / std[c]);
      plane.push(mirrored ? row.reverse() : row);
    }
    // Reflect padding: rows first (mirroring about the edge row, which is not repeated), then columns.
    const rows = [...plane.slice(1, R + 1).reverse(), ...plane, ...plane.slice(SIDE - R - 1, SIDE - 1).reverse()];
    const padded = rows.map((row) => [...row.slice(1, R + 1).reverse(), ...row, ...row.slice(SIDE - R - 1, SIDE - 1).reverse()]);
    expect(padded).toHaveLength(P);
    for (let y = 0; y < SIDE; y++) for (let x = 0; x < SIDE; x++) out[c * SIDE * SIDE + y * SIDE + x] = Math.fround(padded[R + dy + y][R + dx + x]);
  }
  return out;
}

interface View {
  mirrored: boolean;
  dy: number;
  dx: number;
}

// The reference views of each image of the one set viewOf is asked about, built once.
const referenceViews = new Map<number, Array<{ view: View; pixels: Float32Array }>>();

/** Which (orientation, shift) of the image `row` shows, found by comparing with every reference view: exactly one must match. */
function viewOf(set: ImageSet, sample: number, row: Float32Array): View {
  let candidates = referenceViews.get(sample);
  if (!candidates) {
    candidates = [];
    for (const mirrored of [false, true]) {
      for (let dy = -R; dy <= R; dy++) for (let dx = -R; dx <= R; dx++) candidates.push({ view: { mirrored, dy, dx }, pixels: referenceView(set, sample, mirrored, dy, dx) });
    }
    referenceViews.set(sample, candidates);
  }
  const found = candidates.filter(({ pixels }) => pixels.every((v, i) => Math.abs(v - row[i]) <= 1e-6 * Math.max(1, Math.abs(v)))).map(({ view }) => view);
  expect(found).toHaveLength(1);
  return found[0];
}

function fill(set: ImageSet, indices: Uint32Array, seed: number, epoch: number, keys?: Uint32Array): Float32Array {
  const out = new Float32Array(indices.length * IMG);
  fillBatch(set, indices, 0, indices.length, out, new Int32Array(indices.length), { augment: true, augmentation: 'alternating-flip-translate', seed, epoch, ...(keys ? { keys } : {}) });
  return out;
}

describe("fillBatch's alternating flip and translate (airbench94's training augmentation)", () => {
  const count = 32;
  const set = randomSet(count);
  const all = Uint32Array.from({ length: count }, (_, i) => i);
  const epochs = [0, 1, 2, 3].map((epoch) => fill(set, all, 5, epoch));
  const views = epochs.map((images) => Array.from(all, (sample) => viewOf(set, sample, images.subarray(sample * IMG, (sample + 1) * IMG))));

  it('shows every image as a reflect-padded translation of itself or its mirror, and the mirror alternates epoch by epoch', () => {
    for (let sample = 0; sample < count; sample++) {
      expect(views[1][sample].mirrored).toBe(!views[0][sample].mirrored);
      expect(views[2][sample].mirrored).toBe(views[0][sample].mirrored);
      expect(views[3][sample].mirrored).toBe(views[1][sample].mirrored);
    }
    // Which images start mirrored is a draw per image: about half of them (32 images: 16 +- 8.5 at 3 sigma).
    const mirroredFirst = views[0].filter((v) => v.mirrored).length;
    expect(mirroredFirst).toBeGreaterThan(7);
    expect(mirroredFirst).toBeLessThan(25);
  });

  it('draws the translation afresh each epoch, over every shift of -2..2 on each axis', () => {
    const shifts = new Set(views.flat().map((v) => `${v.dy},${v.dx}`));
    expect(shifts.size).toBe((2 * R + 1) ** 2);
    const sameAsEpoch0 = views[1].filter((v, sample) => v.dy === views[0][sample].dy && v.dx === views[0][sample].dx).length;
    expect(sameAsEpoch0).toBeLessThan(count / 4);
  });

  it('depends on (seed, epoch, image) only: rows in any order and split into any parts give the same pixels, a stream\'s keys stand for the index, another seed gives other views', () => {
    const shuffled = new Rng(3).shuffle(Uint32Array.from(all));
    const out = new Float32Array(count * IMG);
    const labels = new Int32Array(count);
    const options = { augment: true, augmentation: 'alternating-flip-translate' as const, seed: 5, epoch: 3 };
    for (const [start, end] of [[0, 7], [7, 30], [30, count]]) {
      fillBatch(set, shuffled, start, end, out.subarray(start * IMG), labels.subarray(start), options);
    }
    shuffled.forEach((sample, row) => expect(out.subarray(row * IMG, (row + 1) * IMG)).toEqual(epochs[3].subarray(sample * IMG, (sample + 1) * IMG)));

    // A streamed batch copies image 20 to place 0 of a small set: its key 20 keys the draws.
    const copy = allocateImageSet(1);
    copy.images.set(set.images.subarray(20 * IMG, 21 * IMG));
    expect(fill(copy, new Uint32Array([0]), 5, 3, new Uint32Array([20]))).toEqual(epochs[3].subarray(20 * IMG, 21 * IMG));

    const otherSeed = fill(set, all, 6, 0);
    const differ = Array.from(all).filter((sample) => {
      const v = viewOf(set, sample, otherSeed.subarray(sample * IMG, (sample + 1) * IMG));
      const w = views[0][sample];
      return v.mirrored !== w.mirrored || v.dy !== w.dy || v.dx !== w.dx;
    }).length;
    expect(differ).toBeGreaterThan(count / 2);
  });

  it('refuses images too small to reflect a 2-pixel shift, and an unknown kind', () => {
    const tiny = allocateImageSet(1, { channels: 3, height: 2, width: 2 });
    expect(() => fillBatch(tiny, [0], 0, 1, new Float32Array(12), new Int32Array(1), { augment: true, augmentation: 'alternating-flip-translate', seed: 1, epoch: 0 })).toThrow(
      /sides of at least 3; these are 2x2/,
    );
    expect(() => fillBatch(set, [0], 0, 1, new Float32Array(IMG), new Int32Array(1), { augment: true, augmentation: 'mixup' as never, seed: 1, epoch: 0 })).toThrow(
      /crop-flip, alternating-flip-translate, got mixup/,
    );
  });
});
