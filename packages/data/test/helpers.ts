import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { allocateImageSet, DatasetError, ImageSet } from '../src';
import { CIFAR10_CLASS_NAMES, CIFAR10_IMAGE_BYTES, CIFAR10_META_FILE, CIFAR10_RECORD_BYTES, CIFAR10_TEST_FILES, CIFAR10_TRAIN_FILES } from '../src/cifar10Format';

/** A deterministic image set: pixel bytes from a simple hash of (image, byte), labels i mod classes. */
export function syntheticSet(count: number, classes = 10): ImageSet {
  const set = allocateImageSet(count);
  for (let i = 0; i < count; i++) {
    set.labels[i] = i % classes;
    for (let b = 0; b < CIFAR10_IMAGE_BYTES; b++) set.images[i * CIFAR10_IMAGE_BYTES + b] = (i * 131 + b * 7 + ((b * b) >> 5)) & 255;
  }
  return set;
}

/** Bytes of a batch file of `records` records: record r has label labelOf(r) and pixels (r + b) mod 251. */
export function batchFileBytes(records: number, labelOf: (r: number) => number = (r) => r % 10, seed = 0): Buffer {
  const buf = Buffer.alloc(records * CIFAR10_RECORD_BYTES);
  for (let r = 0; r < records; r++) {
    const at = r * CIFAR10_RECORD_BYTES;
    buf[at] = labelOf(r);
    for (let b = 0; b < CIFAR10_IMAGE_BYTES; b++) buf[at + 1 + b] = (seed + r + b) % 251;
  }
  return buf;
}

/** Writes a complete small dataset folder (recordsPerFile records per .bin file). */
export function writeDatasetFolder(dir: string, recordsPerFile: number): void {
  fs.mkdirSync(dir, { recursive: true });
  CIFAR10_TRAIN_FILES.forEach((name, i) => fs.writeFileSync(path.join(dir, name), batchFileBytes(recordsPerFile, undefined, i * 17)));
  CIFAR10_TEST_FILES.forEach((name) => fs.writeFileSync(path.join(dir, name), batchFileBytes(recordsPerFile, undefined, 99)));
  fs.writeFileSync(path.join(dir, CIFAR10_META_FILE), CIFAR10_CLASS_NAMES.join('\n') + '\n\n');
}

export function makeTempDir(prefix = 'convoy-data-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** A new temporary folder with `write`'s files in it: the fixture a describe block's beforeAll makes once. */
export async function madeFolder(prefix: string, write: (root: string) => Promise<void>): Promise<string> {
  const root = makeTempDir(prefix);
  await write(root);
  return root;
}

/** The DatasetError that `f` throws or rejects with (failing the test when it does neither, or throws something else). */
export async function datasetError(f: () => unknown): Promise<DatasetError> {
  const error = await Promise.resolve().then(f).then(() => null, (e: unknown) => e);
  expect(error).toBeInstanceOf(DatasetError);
  return error as DatasetError;
}
