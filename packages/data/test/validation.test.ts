import * as fs from 'fs';
import * as path from 'path';
import { allocateImageSet, DatasetError, imageAt, loadCifar10, parseBatchRecords, readCifar10 } from '../src';
import { CIFAR10_IMAGE_BYTES, CIFAR10_RECORD_BYTES } from '../src/cifar10Format';
import { batchFileBytes, makeTempDir, writeDatasetFolder } from './helpers';

const PER_FILE = 5;

function expectDatasetError(fn: () => unknown, code: string, ...patterns: RegExp[]): void {
  let error: unknown;
  try {
    fn();
  } catch (err) {
    error = err;
  }
  expect(error).toBeInstanceOf(DatasetError);
  expect((error as DatasetError).code).toBe(code);
  for (const p of patterns) expect((error as Error).message).toMatch(p);
}

describe('reading a CIFAR-10 folder', () => {
  let dir: string;
  beforeEach(() => {
    dir = makeTempDir();
    writeDatasetFolder(dir, PER_FILE);
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('a valid small folder reads into labels and planar pixels in file order', () => {
    const data = readCifar10(dir, { recordsPerFile: PER_FILE });
    expect(data.train.count).toBe(5 * PER_FILE);
    expect(data.test.count).toBe(PER_FILE);
    expect(data.classNames[3]).toBe('cat');
    // Image 7 of train is record 2 of data_batch_2.bin (written with seed 17).
    expect(data.train.labels[7]).toBe(2);
    expect(Buffer.from(imageAt(data.train, 7)).equals(batchFileBytes(PER_FILE, undefined, 17).subarray(2 * CIFAR10_RECORD_BYTES + 1, 3 * CIFAR10_RECORD_BYTES))).toBe(true);
  });

  test('the default insists on the real 10,000 records per file', () => {
    expectDatasetError(() => readCifar10(dir), 'BAD_RECORD_COUNT', /data_batch_1\.bin holds 5 records/, /expected 10,000/, /re-download/);
  });

  test('a missing batch file is named, with the fix', () => {
    fs.rmSync(path.join(dir, 'data_batch_3.bin'));
    expectDatasetError(() => readCifar10(dir, { recordsPerFile: PER_FILE }), 'MISSING_FILE', /data_batch_3\.bin is missing from/, /delete the folder/);
  });

  test('a padded file: size not a whole number of 3,073-byte records', () => {
    fs.appendFileSync(path.join(dir, 'test_batch.bin'), Buffer.from([0]));
    expectDatasetError(
      () => readCifar10(dir, { recordsPerFile: PER_FILE }),
      'BAD_SIZE',
      /test_batch\.bin\b.*\b15,366 bytes\b.*\b3,073\b/,
      /\b15,365 bytes \(5 records\)/,
      /re-download/,
    );
  });

  test('a truncated file', () => {
    const file = path.join(dir, 'data_batch_5.bin');
    fs.truncateSync(file, fs.statSync(file).size - 100);
    expectDatasetError(() => readCifar10(dir, { recordsPerFile: PER_FILE }), 'BAD_SIZE', /data_batch_5\.bin has 15,265 bytes/, /truncated or padded/);
  });

  test('a whole number of records but the wrong count', () => {
    fs.writeFileSync(path.join(dir, 'data_batch_2.bin'), batchFileBytes(PER_FILE + 1));
    expectDatasetError(() => readCifar10(dir, { recordsPerFile: PER_FILE }), 'BAD_RECORD_COUNT', /data_batch_2\.bin holds 6 records \(18,438 bytes\), expected 5/);
  });

  test('a label above 9 names the file, record and byte offset', () => {
    fs.writeFileSync(path.join(dir, 'data_batch_4.bin'), batchFileBytes(PER_FILE, (r) => (r === 3 ? 10 : 1)));
    expectDatasetError(
      () => readCifar10(dir, { recordsPerFile: PER_FILE }),
      'BAD_LABEL',
      /data_batch_4\.bin: record 3 \(byte offset 9,219\).*\blabel 10\b.*\b0-9\b/,
      /re-download/,
    );
  });

  test('a missing batches.meta.txt', () => {
    fs.rmSync(path.join(dir, 'batches.meta.txt'));
    expectDatasetError(() => readCifar10(dir, { recordsPerFile: PER_FILE }), 'MISSING_FILE', /batches\.meta\.txt is missing/, /airplane, automobile/);
  });

  test.each([
    ['nine names', 'airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\n', /found 9 non-empty line/],
    ['binary junk', '\u0080\u0002}q\u0000(X\u0007\u0000\u0000\u0000labels', /found a line that is not a class name/],
    ['an empty file', '', /found 0 non-empty line/],
  ])('a garbled batches.meta.txt (%s)', (_what, text, pattern) => {
    fs.writeFileSync(path.join(dir, 'batches.meta.txt'), Buffer.from(text, 'latin1'));
    expectDatasetError(() => readCifar10(dir, { recordsPerFile: PER_FILE }), 'BAD_META', /batches\.meta\.txt is garbled: expected 10 class names/, pattern);
  });
});

describe('loadCifar10 without download', () => {
  let root: string;
  beforeEach(() => (root = makeTempDir()));
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  test('a missing folder with --no-download says where it looked and how to fix it', async () => {
    const dataDir = path.join(root, 'nowhere');
    await expect(loadCifar10({ dataDir, download: false, env: {} })).rejects.toThrow(
      new RegExp(`${dataDir} \\(from --data-dir\\).*--no-download.*--data-dir.*CIFAR10_DIR`),
    );
    const cacheDir = path.join(root, 'cache');
    await expect(loadCifar10({ download: false, env: { XDG_CACHE_HOME: cacheDir } })).rejects.toThrow(
      new RegExp(`${path.join(cacheDir, 'convoy', 'cifar-10')} \\(from cache\\).*--no-download`),
    );
  });

  test('an incomplete existing folder is reported, never overwritten by a download', async () => {
    writeDatasetFolder(root, PER_FILE);
    fs.rmSync(path.join(root, 'data_batch_1.bin'));
    fs.rmSync(path.join(root, 'test_batch.bin'));
    await expect(loadCifar10({ dataDir: root, recordsPerFile: PER_FILE, url: 'http://127.0.0.1:9/never' })).rejects.toThrow(
      /\bincomplete\b.*\bdata_batch_1\.bin, test_batch\.bin\b/,
    );
    expect(fs.existsSync(path.join(root, 'data_batch_2.bin'))).toBe(true);
  });

  test('finds the files directly in the folder, or in its cifar-10-batches-bin subfolder (CIFAR10_DIR)', async () => {
    writeDatasetFolder(path.join(root, 'cifar-10-batches-bin'), PER_FILE);
    const data = await loadCifar10({ download: false, env: { CIFAR10_DIR: root }, recordsPerFile: PER_FILE });
    expect(data.dataDir).toBe(path.join(root, 'cifar-10-batches-bin'));
    expect(data.train.count).toBe(25);
  });
});

describe('parseBatchRecords (bytes, no file system)', () => {
  const record = (label: number, fill: number) => {
    const r = new Uint8Array(CIFAR10_RECORD_BYTES).fill(fill);
    r[0] = label;
    return r;
  };
  it('splits records into labels and planar pixels from the given image on', () => {
    const set = allocateImageSet(3);
    const bytes = new Uint8Array(2 * CIFAR10_RECORD_BYTES);
    bytes.set(record(3, 7), 0);
    bytes.set(record(5, 9), CIFAR10_RECORD_BYTES);
    parseBatchRecords(bytes, set, 1, 'dropped.bin');
    expect(Array.from(set.labels)).toEqual([0, 3, 5]);
    expect(set.images[CIFAR10_IMAGE_BYTES]).toBe(7);
    expect(set.images[3 * CIFAR10_IMAGE_BYTES - 1]).toBe(9);
  });
  it('names the source for a partial record and for a label above 9', () => {
    const set = allocateImageSet(2);
    expect(() => parseBatchRecords(new Uint8Array(CIFAR10_RECORD_BYTES + 5), set, 0, 'dropped.bin')).toThrow(/\bdropped\.bin\b.*\b3,078 bytes\b.*\b3,073\b/);
    expect(() => parseBatchRecords(record(12, 0), set, 0, 'dropped.bin')).toThrow(/\bdropped\.bin: record 0\b.*\blabel 12\b/);
  });
});
