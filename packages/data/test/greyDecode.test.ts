import * as fs from 'fs';
import * as path from 'path';
import {
  computeChannelStats, decodeImage, decodeImageFile, imageBytes, loadImageFolder, lumaOf, packDataset, readPackedDataset, readPackedIndex, type ImageSet,
} from '../src';
import { madeFolder, makeTempDir } from './helpers';
import { encodeImage, rawPixels, writeFile } from './imageFiles';

const fixtures = path.join(__dirname, 'fixtures');
const quiet = { onProgress: () => undefined, concurrency: 3 };

describe('decodeImage with channels: 1 (grey)', () => {
  test("a colour PNG gives exactly PIL's convert('L') bytes (tools/pytorch/make_grey_fixture.py)", async () => {
    const fixture = JSON.parse(fs.readFileSync(path.join(fixtures, 'grey-pil.json'), 'utf8')) as { side: number; grey: string };
    const png = fs.readFileSync(path.join(fixtures, 'grey-pil.png'));
    const grey = await decodeImage(png, fixture.side, 'grey-pil.png', { channels: 1 });
    expect(grey.length).toBe(fixture.side * fixture.side);
    expect(Buffer.from(grey).toString('hex')).toBe(fixture.grey);
  });

  test('the formula: BT.601 weights, rounded as PIL; R = G = B keeps its value', () => {
    expect([lumaOf(255, 0, 0), lumaOf(0, 255, 0), lumaOf(0, 0, 255)]).toEqual([76, 150, 29]);
    for (let v = 0; v < 256; v++) expect(lumaOf(v, v, v)).toBe(v);
    expect(lumaOf(255, 255, 255)).toBe(255);
  });

  test('a grey file keeps its own levels, at its size and resized (the RGB decoding repeats them into R, G, B)', async () => {
    const level = (x: number, y: number) => (x * 7 + y * 11) & 255;
    const png = await encodeImage(rawPixels(30, 40, 1, level), 30, 40, 1, 'png');
    const same = await decodeImage(png, 30, 'grey.png', { channels: 1 });
    for (let y = 0; y < 30; y++) for (let x = 0; x < 30; x++) expect(same[y * 30 + x]).toBe(level(x, y + 5));
    const resized = await decodeImage(png, 12, 'grey.png', { channels: 1 });
    const rgb = await decodeImage(png, 12, 'grey.png');
    expect(Buffer.from(resized).equals(Buffer.from(rgb.subarray(0, 144)))).toBe(true);
  });

  test('a colour file is resized in RGB first, then made grey: the luma of the RGB decoding, pixel by pixel', async () => {
    const colour = (x: number, y: number, c: number) => (x * 13 + y * 5 + c * 90) & 255;
    for (const as of ['png', 'jpeg', 'webp'] as const) {
      const bytes = await encodeImage(rawPixels(50, 37, 3, colour), 50, 37, 3, as);
      const grey = await decodeImage(bytes, 16, `c.${as}`, { channels: 1 });
      const rgb = await decodeImage(bytes, 16, `c.${as}`);
      const plane = 16 * 16;
      for (let p = 0; p < plane; p++) expect(grey[p]).toBe(lumaOf(rgb[p], rgb[plane + p], rgb[2 * plane + p]));
    }
  });

  test('out must hold 1 x R x R bytes; channels other than 1 and 3 are refused', async () => {
    const png = await encodeImage(rawPixels(8, 8, 3, () => 9), 8, 8, 3, 'png');
    const out = new Uint8Array(64);
    expect(await decodeImage(png, 8, 'a.png', { channels: 1, out })).toBe(out);
    await expect(decodeImage(png, 8, 'a.png', { channels: 1, out: new Uint8Array(192) })).rejects.toThrow(/\bout\b.*\b1 x 8 x 8 = 64 bytes\b.*\b192\b/);
    await expect(decodeImage(png, 8, 'a.png', { channels: 2 as 1 })).rejects.toThrow(/\bchannels\b.*\b1\b.*\b3\b.*\b2$/);
  });
});

/** A small real folder: 3 classes, colour and grey PNGs of odd sizes. */
async function writeFolder(root: string): Promise<void> {
  for (const [k, name] of ['ant', 'bee', 'cow'].entries()) {
    for (let i = 0; i < 5; i++) {
      const split = i < 4 ? 'train' : 'test';
      const channels = i % 2 === 0 ? 3 : 1;
      const raw = rawPixels(20 + i, 18, channels, (x, y, c) => (x * (k + 3) + y * 9 + c * 70 + i * 17) & 255);
      writeFile(path.join(root, split, name, `${i}.png`), await encodeImage(raw, 20 + i, 18, channels, 'png'));
    }
  }
}

function image(set: ImageSet, i: number): Buffer {
  const b = imageBytes(set);
  return Buffer.from(set.images.subarray(i * b, (i + 1) * b));
}

describe('a grey image folder (loadImageFolder, convoy pack)', () => {
  let root: string;
  beforeAll(async () => {
    root = await madeFolder('convoy-grey-', writeFolder);
  });

  test('channels: 1 gives 1 x R x R images, each what decodeImageFile gives, and 1-channel statistics of its own', async () => {
    const R = 16;
    const data = await loadImageFolder(root, { resolution: R, channels: 1, cacheDir: null, ...quiet });
    expect([data.channels, data.train.channels, data.test.channels, data.train.height]).toEqual([1, 1, 1, R]);
    expect(data.train.images.length).toBe(12 * R * R);
    const files = ['ant', 'bee', 'cow'].flatMap((c) => [0, 1, 2, 3].map((i) => `train/${c}/${i}.png`));
    for (const [i, file] of files.entries()) {
      expect(image(data.train, i).equals(Buffer.from(await decodeImageFile(path.join(root, file), R, { channels: 1 })))).toBe(true);
    }
    expect(data.normalization.mean).toHaveLength(1);
    expect(data.normalization).toEqual(computeChannelStats(data.train));
    // The statistics are those of the grey pixels, by hand.
    let sum = 0;
    for (const v of data.train.images) sum += v;
    expect(data.normalization.mean[0]).toBeCloseTo(sum / data.train.images.length / 255, 12);
  });

  test('the cache is keyed by channels: an RGB cache is never read for grey, nor the reverse', async () => {
    const cacheDir = makeTempDir('convoy-grey-cache-');
    const rgb = await loadImageFolder(root, { resolution: 12, cacheDir, ...quiet });
    const grey = await loadImageFolder(root, { resolution: 12, channels: 1, cacheDir, ...quiet });
    expect([rgb.cache, grey.cache]).toEqual(['written', 'written']);
    expect(grey.cacheFile).not.toBe(rgb.cacheFile);
    const greyAgain = await loadImageFolder(root, { resolution: 12, channels: 1, cacheDir, ...quiet });
    const rgbAgain = await loadImageFolder(root, { resolution: 12, cacheDir, ...quiet });
    expect([greyAgain.cache, rgbAgain.cache]).toEqual(['hit', 'hit']);
    expect([greyAgain.train.channels, rgbAgain.train.channels]).toEqual([1, 3]);
    expect(Buffer.from(greyAgain.train.images).equals(Buffer.from(grey.train.images))).toBe(true);
    expect(Buffer.from(rgbAgain.train.images).equals(Buffer.from(rgb.train.images))).toBe(true);
  });

  test('convoy pack --channels 1: the index says 1 channel; shards read back as the grey folder loads, with its statistics', async () => {
    const R = 10;
    const out = path.join(makeTempDir('convoy-grey-pack-'), 'packed');
    const { index } = await packDataset(root, out, { resolution: R, channels: 1, ...quiet });
    expect(index.channels).toBe(1);
    expect(readPackedIndex(out).channels).toBe(1);
    const packed = readPackedDataset(out);
    const folder = await loadImageFolder(root, { resolution: R, channels: 1, cacheDir: null, ...quiet });
    expect([packed.channels, packed.train.channels, packed.test.channels]).toEqual([1, 1, 1]);
    const sorted = (set: ImageSet) => Array.from({ length: set.count }, (_, i) => `${set.labels[i]}:${image(set, i).toString('hex')}`).sort();
    expect(sorted(packed.train)).toEqual(sorted(folder.train));
    expect(sorted(packed.test)).toEqual(sorted(folder.test));
    expect(packed.normalization.mean).toEqual([expect.closeTo(folder.normalization.mean[0], 12)]);
    expect(packed.normalization.std).toEqual([expect.closeTo(folder.normalization.std[0], 12)]);
    // The same folder packed in RGB is another packing, not "complete".
    await expect(packDataset(root, out, { resolution: R, ...quiet })).rejects.toThrow(/is not empty and holds no packing/);
  });

});
