import * as fs from 'fs';
import * as path from 'path';
import {
  computeChannelStats, decodeImageFile, isSharedImageSet, loadImageFolder, readImageFolderLayout, type LoadImageFolderOptions,
} from '../src';
import { writeImageCache } from '../src/imageFolderCache';
import { datasetError, madeFolder, makeTempDir } from './helpers';
import { encodeImage, rawPixels, solidImage, writeFile } from './imageFiles';

const R = 16;
const quiet = { onProgress: () => undefined, concurrency: 3 };

/** A small ImageFolder with odd sizes, grey and RGBA files, in JPEG, PNG and WebP. */
async function writeTrainTestFolder(root: string): Promise<void> {
  writeFile(path.join(root, 'train/cat/a.jpg'), await solidImage(500, 333, [200, 60, 60], 'jpeg'));
  writeFile(path.join(root, 'train/cat/b.png'), await encodeImage(rawPixels(40, 50, 1, () => 90), 40, 50, 1, 'png'));
  writeFile(path.join(root, 'train/cat/c.png'), await encodeImage(rawPixels(33, 17, 4, (_x, _y, c) => [10, 20, 30, 100][c]), 33, 17, 4, 'png'));
  writeFile(path.join(root, 'train/dog/d.webp'), await solidImage(20, 20, [30, 40, 220], 'webp'));
  writeFile(path.join(root, 'train/dog/nested/e.jpg'), await solidImage(64, 48, [30, 200, 30], 'jpeg'));
  writeFile(path.join(root, 'train/dog/.DS_Store'), 'not an image, but hidden');
  writeFile(path.join(root, 'test/cat/f.jpg'), await solidImage(16, 16, [250, 250, 250], 'jpeg'));
  writeFile(path.join(root, 'test/dog/g.png'), await solidImage(300, 17, [5, 5, 5], 'png'));
}

async function writeClassFolders(root: string, counts: Record<string, number>): Promise<void> {
  for (const [name, n] of Object.entries(counts)) {
    for (let i = 0; i < n; i++) writeFile(path.join(root, name, `${String(i).padStart(3, '0')}.png`), await solidImage(8 + i, 8, [i * 10, 0, name.length * 20], 'png'));
  }
}

async function load(root: string, options: LoadImageFolderOptions = {}) {
  return loadImageFolder(root, { resolution: R, cacheDir: null, ...quiet, ...options });
}

describe('loadImageFolder: train/<class> + test/<class>', () => {
  let root: string;
  beforeAll(async () => {
    root = await madeFolder('convoy-folder-', writeTrainTestFolder);
  });

  test('classes from folder names (sorted), every image decoded to 3 x R x R, train and test in one shared buffer', async () => {
    const data = await load(root);
    expect(data.classNames).toEqual(['cat', 'dog']);
    expect([data.train.count, data.test.count]).toEqual([5, 2]);
    expect(Array.from(data.train.labels)).toEqual([0, 0, 0, 1, 1]);
    expect(Array.from(data.test.labels)).toEqual([0, 1]);
    expect([data.train.channels, data.train.height, data.train.width]).toEqual([3, R, R]);
    expect(isSharedImageSet(data.train) && isSharedImageSet(data.test)).toBe(true);
    expect(data.train.images.buffer).toBe(data.test.images.buffer);
    // Each image is exactly what decodeImageFile gives (the one preprocessing), in file order.
    const files = ['train/cat/a.jpg', 'train/cat/b.png', 'train/cat/c.png', 'train/dog/d.webp', 'train/dog/nested/e.jpg', 'test/cat/f.jpg', 'test/dog/g.png'];
    for (const [k, file] of files.entries()) {
      const want = await decodeImageFile(path.join(root, file), R);
      const set = k < 5 ? data.train : data.test;
      const i = k < 5 ? k : k - 5;
      expect(Buffer.from(set.images.subarray(i * 3 * R * R, (i + 1) * 3 * R * R)).equals(Buffer.from(want))).toBe(true);
    }
    // grey -> R = G = B = 90; RGBA -> its RGB.
    const plane = R * R;
    expect([data.train.images[3 * plane], data.train.images[4 * plane], data.train.images[5 * plane]]).toEqual([90, 90, 90]);
    expect([data.train.images[6 * plane], data.train.images[7 * plane], data.train.images[8 * plane]]).toEqual([10, 20, 30]);
    expect(data.normalization).toEqual(computeChannelStats(data.train));
    expect(data.cache).toBe('off');
  });

  test('progress counts every image up to the total', async () => {
    const events: number[] = [];
    await load(root, { onProgress: ({ done, total }) => (expect(total).toBe(7), events.push(done)) });
    expect(events[0]).toBe(0);
    expect(events[events.length - 1]).toBe(7);
    expect(events.every((d, i) => i === 0 || d === events[i - 1] + 1)).toBe(true);
  });
});

describe('loadImageFolder: one folder + valSplit (seeded, stratified)', () => {
  test('round(n * fraction) of each class is held out; the same seed gives the same split, another seed another one', async () => {
    const root = makeTempDir('convoy-split-');
    await writeClassFolders(root, { cat: 10, dog: 6 });
    const layout = readImageFolderLayout(root, { valSplit: 0.2, seed: 3 });
    const test = layout.order.slice(layout.trainCount).map((i) => layout.entries[i]);
    expect(test.filter((e) => e.label === 0)).toHaveLength(2);
    expect(test.filter((e) => e.label === 1)).toHaveLength(1);
    expect(readImageFolderLayout(root, { valSplit: 0.2, seed: 3 })).toEqual(layout);
    const other = readImageFolderLayout(root, { valSplit: 0.2, seed: 4 });
    expect(other.order).not.toEqual(layout.order);
    expect([...layout.order].sort((a, b) => a - b)).toEqual(layout.entries.map((_, i) => i));
    const data = await load(root, { valSplit: 0.2, seed: 3 });
    expect([data.train.count, data.test.count]).toEqual([13, 3]);
    expect(Array.from(data.test.labels)).toEqual([0, 0, 1]);
  });

  test('a class with one image cannot be split', async () => {
    const root = makeTempDir('convoy-split-');
    await writeClassFolders(root, { cat: 3, dog: 1 });
    expect(() => readImageFolderLayout(root, { valSplit: 0.5 })).toThrow(new RegExp(`${path.join(root, 'dog')}\\b.*\\b1 image\\b.*--val-split.*\\b2\\b`));
    expect(() => readImageFolderLayout(root, { valSplit: 1.5 })).toThrow(/--val-split\b.*\b0 and 1\b.*\b1\.5$/);
  });
});

describe('bad folders: a DatasetError naming the folder and the fix', () => {
  const cases: Array<[string, (root: string) => Promise<void>, RegExp, { valSplit?: number }]> = [
    ['an empty class folder in train/', async (r) => (await writeTrainTestFolder(r), fs.mkdirSync(path.join(r, 'train/bird'))), /train\/bird is an empty class folder/, {}],
    ['an empty class folder in test/', async (r) => (await writeTrainTestFolder(r), fs.rmSync(path.join(r, 'test/dog/g.png'))), /test\/dog is an empty class folder/, {}],
    ['a class in test/ that train/ lacks', async (r) => {
      await writeTrainTestFolder(r);
      writeFile(path.join(r, 'test/cow/x.png'), await solidImage(8, 8, [1, 2, 3], 'png'));
    }, /test has class folder "cow" that .*train lacks \(training classes: cat, dog\)/, {}],
    ['one class', async (r) => writeClassFolders(path.join(r, 'train'), { cat: 2 }).then(() => writeClassFolders(path.join(r, 'test'), { cat: 1 })), /train has one class folder \("cat"\); a classifier needs at least two classes/, {}],
    ['one class (one folder with --val-split)', async (r) => writeClassFolders(r, { cat: 4 }), /has one class folder \("cat"\)/, { valSplit: 0.25 }],
    ['no class folders', async (r) => { writeFile(path.join(r, 'photo.jpg'), await solidImage(8, 8, [1, 2, 3])); }, /has no class folders/, { valSplit: 0.1 }],
    ['train/ without test/', async (r) => writeClassFolders(path.join(r, 'train'), { cat: 2, dog: 2 }), /has train\/ but no test\/ folder. Fix: add test\/<class>\/ folders, or .* --val-split/, {}],
    ['class folders without --val-split', async (r) => writeClassFolders(r, { cat: 2, dog: 2 }), /has class folders \(cat, dog\) but no train\/ and test\/ folders. Fix: pass --val-split 0.1/, {}],
    ['--val-split with train/ and test/', writeTrainTestFolder, /has its own train\/ and test\/ folders, so --val-split has nothing to do/, { valSplit: 0.1 }],
  ];
  test.each(cases)('%s', async (_name, build, message, options) => {
    const root = makeTempDir('convoy-badfolder-');
    await build(root);
    const error = await datasetError(() => load(root, options));
    expect(error.code).toBe('BAD_IMAGE_FOLDER');
    expect(error.message).toMatch(message);
    expect(error.message).toContain(root);
    expect(error.message).toMatch(/Fix: /);
  });

  test('a folder that does not exist', async () => {
    const error = await datasetError(() => load('/nonexistent/photos'));
    expect(error.code).toBe('NOT_FOUND');
    expect(error.message).toMatch(/\/nonexistent\/photos: no such folder/);
  });
});

describe('bad image files', () => {
  async function folderWithBadFiles(): Promise<string> {
    const root = makeTempDir('convoy-badfiles-');
    await writeTrainTestFolder(root);
    writeFile(path.join(root, 'train/cat/empty.jpg'), '');
    writeFile(path.join(root, 'train/dog/readme.txt'), 'these are dogs');
    const jpeg = await solidImage(200, 100, [1, 2, 3], 'jpeg');
    writeFile(path.join(root, 'test/dog/cut.jpg'), jpeg.subarray(0, jpeg.length >> 1));
    return root;
  }

  test('fail the load with one error listing every bad file and what is wrong with it', async () => {
    const root = await folderWithBadFiles();
    const error = await datasetError(() => load(root));
    expect(error.code).toBe('BAD_IMAGES');
    expect(error.message).toMatch(new RegExp(`^3 of 10 files under ${root}\\b`));
    expect(error.message).toMatch(new RegExp(`${path.join(root, 'train/cat/empty.jpg')}: .*\\bempty\\b.*\\(0 bytes\\)`));
    expect(error.message).toMatch(new RegExp(`${path.join(root, 'train/dog/readme.txt')}: not an image\\b.*\\bJPEG, PNG, WebP\\b.*"these ar"`));
    expect(error.message).toMatch(new RegExp(`${path.join(root, 'test/dog/cut.jpg')}: .*\\bcorrupt or truncated\\b`));
    expect(error.message).toMatch(/Fix: .*--skip-bad-images\b/);
  });

  test('skipBadImages leaves them out and counts them; the good images are packed in order', async () => {
    const root = await folderWithBadFiles();
    const data = await load(root, { skipBadImages: true });
    expect(data.skipped.map((b) => [b.file, b.code])).toEqual([
      ['train/cat/empty.jpg', 'EMPTY_IMAGE'],
      ['train/dog/readme.txt', 'NOT_AN_IMAGE'],
      ['test/dog/cut.jpg', 'CORRUPT_IMAGE'],
    ]);
    expect([data.train.count, data.test.count]).toEqual([5, 2]);
    const clean = await load(await (async () => {
      const r = makeTempDir('convoy-clean-');
      await writeTrainTestFolder(r);
      return r;
    })());
    expect(Buffer.from(data.train.images).equals(Buffer.from(clean.train.images))).toBe(true);
    expect(Buffer.from(data.test.images).equals(Buffer.from(clean.test.images))).toBe(true);
  });

  test('a class whose every training image is bad is an error even when skipping', async () => {
    const root = makeTempDir('convoy-allbad-');
    await writeTrainTestFolder(root);
    fs.rmSync(path.join(root, 'train/dog'), { recursive: true });
    writeFile(path.join(root, 'train/dog/x.jpg'), 'nope');
    const error = await datasetError(() => load(root, { skipBadImages: true }));
    expect(error.message).toMatch(/\bclass dog\b.*\bno training images\b/);
  });
});

describe('the decoded-image cache', () => {
  test('a second load reads the cache (same pixels); changing a file makes a new entry; nothing temporary is left', async () => {
    const root = makeTempDir('convoy-cache-');
    const cacheDir = makeTempDir('convoy-cachedir-');
    await writeTrainTestFolder(root);
    const first = await load(root, { cacheDir });
    expect(first.cache).toBe('written');
    const second = await load(root, { cacheDir });
    expect(second.cache).toBe('hit');
    expect(second.cacheFile).toBe(first.cacheFile);
    expect(Buffer.from(second.train.images).equals(Buffer.from(first.train.images))).toBe(true);
    expect(Buffer.from(second.test.images).equals(Buffer.from(first.test.images))).toBe(true);
    expect(second.normalization).toEqual(first.normalization);
    // Another R is another entry.
    expect((await load(root, { cacheDir, resolution: 8 })).cache).toBe('written');
    // Replacing an image (new size and time) is another entry.
    writeFile(path.join(root, 'train/cat/a.jpg'), await solidImage(50, 40, [0, 0, 0], 'jpeg'));
    const changed = await load(root, { cacheDir });
    expect(changed.cache).toBe('written');
    expect(changed.cacheFile).not.toBe(first.cacheFile);
    expect(changed.train.images[0]).toBeLessThan(10);
    expect(fs.readdirSync(cacheDir).filter((n) => n.includes('.tmp-'))).toEqual([]);
  });

  test('a damaged cache file is ignored and replaced; bad-file lists are cached too', async () => {
    const root = makeTempDir('convoy-cache-');
    const cacheDir = makeTempDir('convoy-cachedir-');
    await writeTrainTestFolder(root);
    writeFile(path.join(root, 'train/cat/empty.jpg'), '');
    const first = await load(root, { cacheDir, skipBadImages: true });
    const file = first.cacheFile as string;
    fs.truncateSync(file, fs.statSync(file).size - 5);
    const again = await load(root, { cacheDir, skipBadImages: true });
    expect(again.cache).toBe('written');
    const hit = await load(root, { cacheDir, skipBadImages: true });
    expect(hit.cache).toBe('hit');
    expect(hit.skipped.map((b) => b.file)).toEqual(['train/cat/empty.jpg']);
    expect(Buffer.from(hit.train.images).equals(Buffer.from(first.train.images))).toBe(true);
    // Without skipping, the cached bad list fails the load as the first run did.
    expect((await datasetError(() => load(root, { cacheDir }))).code).toBe('BAD_IMAGES');
  });

  test('a write that fails leaves nothing behind; temporary files of dead writers are removed', async () => {
    const cacheDir = makeTempDir('convoy-cachedir-');
    const stale = path.join(cacheDir, 'abc.convoy-images.tmp-999999999-deadbeef');
    fs.writeFileSync(stale, 'half a file');
    const file = path.join(cacheDir, 'k.convoy-images');
    // 3 images of 3x4x4 promised, pixels for one: the write fails part-way.
    expect(() => writeImageCache(file, { resolution: 4, count: 3, files: ['a', 'b', 'c'], bad: [] }, new Uint8Array(48), (i) => i)).toThrow();
    expect(fs.readdirSync(cacheDir)).toEqual([]);
  });
});
