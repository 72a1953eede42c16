import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import {
  CIFAR10_CLASS_NAMES,
  CIFAR10_NORMALIZATION,
  Cifar10,
  computeChannelStats,
  countPerClass,
  fillBatch,
  imageAt,
  isSharedImageSet,
  loadCifar10,
  lumaOf,
  packDataset,
  parseClasses,
  readPackedDataset,
  subset,
} from '../src';
import { makeTempDir } from './helpers';

// The one skip in this package: the real dataset is external. Set CIFAR10_DIR to run these,
// e.g. CIFAR10_DIR=/work/shared/datasets/cifar-10-batches-bin npx jest test/realData.test.ts
const dataDir = process.env.CIFAR10_DIR;
const describeReal = dataDir ? describe : describe.skip;
if (!dataDir) {
  console.warn('realData.test.ts skipped: set CIFAR10_DIR to a folder with the CIFAR-10 binary files to run the real-data checks.');
}

// Pixels of the first test image as read by an independent python3 one-liner (see the fixture's _source).
const firstTestImage = JSON.parse(fs.readFileSync(path.join(__dirname, 'fixtures', 'sharedCopyFirstTestImage.json'), 'utf8')) as {
  testBatchMd5: string;
  label: number;
  pixelSum: number;
  pixels: { c: number; y: number; x: number; value: number }[];
};

describeReal('real CIFAR-10 from CIFAR10_DIR', () => {
  let data: Cifar10;
  beforeAll(async () => {
    data = await loadCifar10({ download: false });
  });

  test('50,000 train + 10,000 test records, 5,000 / 1,000 per class, class names from batches.meta.txt', () => {
    expect(data.dataDir).toBe(path.resolve(dataDir!));
    expect(data.train.count).toBe(50_000);
    expect(data.test.count).toBe(10_000);
    expect(countPerClass(data.train, 10)).toEqual(new Array(10).fill(5_000));
    expect(countPerClass(data.test, 10)).toEqual(new Array(10).fill(1_000));
    expect(data.classNames).toEqual(CIFAR10_CLASS_NAMES);
  });

  // How long the load takes is a benchmark's figure (it depends on the machine's load), not this test's.
  test('loads into shared memory', () => {
    expect(isSharedImageSet(data.train)).toBe(true);
    expect(isSharedImageSet(data.test)).toBe(true);
  });

  test('the first test image of the shared copy decodes to the pixels an independent reader sees', () => {
    // The fixture was taken from the shared copy, whose record order differs from the official
    // release: say so plainly if CIFAR10_DIR holds another copy rather than report odd pixels.
    const md5 = createHash('md5').update(fs.readFileSync(path.join(data.dataDir, 'test_batch.bin'))).digest('hex');
    expect(`test_batch.bin md5 ${md5}`).toBe(`test_batch.bin md5 ${firstTestImage.testBatchMd5}`);
    expect(data.test.labels[0]).toBe(firstTestImage.label);
    const img = imageAt(data.test, 0);
    for (const { c, y, x, value } of firstTestImage.pixels) expect(img[c * 1024 + y * 32 + x]).toBe(value);
    expect(img.reduce((a, b) => a + b, 0)).toBe(firstTestImage.pixelSum);
  });

  test('train-set channel statistics are close to the stated standard normalisation constants', () => {
    // The standard constants come from the official release. The shared copy measures mean
    // (0.49125, 0.48209, 0.44652), std (0.24523, 0.24278, 0.26063): its records differ from the
    // official file (order, and the std by ~0.002), so the bound is 1e-3 on means, 3e-3 on stds.
    const stats = computeChannelStats(data.train);
    for (let c = 0; c < 3; c++) {
      expect(Math.abs(stats.mean[c] - CIFAR10_NORMALIZATION.mean[c])).toBeLessThan(1e-3);
      expect(Math.abs(stats.std[c] - CIFAR10_NORMALIZATION.std[c])).toBeLessThan(3e-3);
    }
  });

  test('--classes cat,dog with --limit-train 1000 gives 500 cats and 500 dogs relabelled 0 and 1', () => {
    const classes = parseClasses('cat,dog', data.classNames);
    const catsDogs = subset(data.train, { classes, limit: 1000 });
    expect(countPerClass(catsDogs, 2)).toEqual([500, 500]);
    // The first cat of the full set is the first image labelled 0 in the subset.
    const firstCat = data.train.labels.indexOf(3);
    const firstZero = catsDogs.labels.indexOf(0);
    expect(Buffer.from(imageAt(catsDogs, firstZero)).equals(Buffer.from(imageAt(data.train, firstCat)))).toBe(true);
  });

  test('a normalised test batch has roughly zero mean and unit std per channel', () => {
    const n = 1000;
    const out = new Float32Array(n * 3072);
    fillBatch(data.test, Uint32Array.from({ length: n }, (_, i) => i), 0, n, out, new Int32Array(n), { augment: false });
    for (let c = 0; c < 3; c++) {
      let s = 0;
      let s2 = 0;
      for (let i = 0; i < n; i++) for (let p = 0; p < 1024; p++) {
        const v = out[i * 3072 + c * 1024 + p];
        s += v;
        s2 += v * v;
      }
      const m = s / (n * 1024);
      expect(Math.abs(m)).toBeLessThan(0.1);
      expect(Math.abs(Math.sqrt(s2 / (n * 1024) - m * m) - 1)).toBeLessThan(0.1);
    }
  });

  test('convoy pack --channels 1 at 32: the test images are the luma of the RGB ones; the statistics are the grey training pixels\'', async () => {
    const out = path.join(makeTempDir('convoy-grey-cifar-'), 'grey');
    await packDataset(dataDir as string, out, { resolution: 32, channels: 1, onProgress: () => undefined });
    const packed = readPackedDataset(out);
    expect([packed.channels, packed.train.count, packed.test.count]).toEqual([1, 50000, 10000]);
    const greyOf = (set: Cifar10['train'], i: number) => {
      const rgb = imageAt(set, i);
      return Buffer.from(Array.from({ length: 1024 }, (_, p) => lumaOf(rgb[p], rgb[1024 + p], rgb[2048 + p])));
    };
    // The packing shuffles: compare the test split as a multiset of (label, grey pixels).
    const key = (label: number, pixels: Buffer) => `${label}:${createHash('sha256').update(pixels).digest('hex')}`;
    const want = Array.from({ length: data.test.count }, (_, i) => key(data.test.labels[i], greyOf(data.test, i))).sort();
    const got = Array.from({ length: packed.test.count }, (_, i) => key(packed.test.labels[i], Buffer.from(imageAt(packed.test, i)))).sort();
    expect(got).toEqual(want);
    let sum = 0;
    for (let i = 0; i < data.train.count; i++) {
      const rgb = imageAt(data.train, i);
      for (let p = 0; p < 1024; p++) sum += lumaOf(rgb[p], rgb[1024 + p], rgb[2048 + p]);
    }
    expect(packed.normalization.mean).toEqual([expect.closeTo(sum / (50000 * 1024 * 255), 10)]);
    fs.rmSync(path.dirname(out), { recursive: true, force: true });
  });
});
