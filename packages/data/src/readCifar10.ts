import * as fs from 'fs';
import * as path from 'path';
import {
  CIFAR10_ALL_FILES,
  CIFAR10_ARCHIVE_FOLDER,
  CIFAR10_RECORD_BYTES,
  CIFAR10_RECORDS_PER_FILE,
  CIFAR10_TEST_FILES,
  CIFAR10_TRAIN_FILES,
} from './cifar10Format';
import { allocateImageSet, ImageSet } from './imageSet';
import { readBatchFile, validateBatchFileSize } from './readBatchFile';
import { readClassNames } from './readClassNames';

export interface Cifar10 {
  train: ImageSet;
  test: ImageSet;
  /** Names in label order, from batches.meta.txt. */
  classNames: string[];
  /** The folder the files were read from. */
  dataDir: string;
}

export interface ReadCifar10Options {
  /**
   * Records each batch file must hold. The default, 10,000, is the real dataset's and is what
   * every user should get; smaller values exist only so tests can build tiny valid folders.
   */
  recordsPerFile?: number;
}

/**
 * Where the .bin files are: the folder itself, or the `cifar-10-batches-bin` folder inside it
 * (what extracting the official archive into a folder gives). Returns null when neither holds
 * data_batch_1.bin.
 */
export function findDatasetFolder(dir: string): string | null {
  for (const candidate of [dir, path.join(dir, CIFAR10_ARCHIVE_FOLDER)]) {
    if (fs.existsSync(path.join(candidate, CIFAR10_TRAIN_FILES[0]))) return candidate;
  }
  return null;
}

/** Files of the dataset missing from `dir` (empty when all are present). */
export function missingDatasetFiles(dir: string): string[] {
  return CIFAR10_ALL_FILES.filter((name) => !fs.existsSync(path.join(dir, name)));
}

/**
 * Cheap structural check (presence, sizes, meta file) without reading the 180 MB of pixels:
 * used on a freshly extracted download before it is moved into place.
 */
export function validateCifar10Folder(dir: string, options: ReadCifar10Options = {}): void {
  const perFile = recordsPerFileOption(options);
  readClassNames(dir);
  for (const name of [...CIFAR10_TRAIN_FILES, ...CIFAR10_TEST_FILES]) validateBatchFileSize(path.join(dir, name), perFile);
}

/**
 * Reads and validates the whole dataset from a folder in the official binary layout into
 * shared memory. Synchronous: it is one sequential read of 180 MB.
 */
export function readCifar10(dataDir: string, options: ReadCifar10Options = {}): Cifar10 {
  const perFile = recordsPerFileOption(options);
  const classNames = readClassNames(dataDir);
  // Sizes of all files first, so a bad test_batch.bin is reported before 150 MB are read.
  for (const name of [...CIFAR10_TRAIN_FILES, ...CIFAR10_TEST_FILES]) validateBatchFileSize(path.join(dataDir, name), perFile);
  const scratch = Buffer.allocUnsafe(perFile * CIFAR10_RECORD_BYTES);
  const train = readFiles(dataDir, CIFAR10_TRAIN_FILES, perFile, scratch);
  const test = readFiles(dataDir, CIFAR10_TEST_FILES, perFile, scratch);
  return { train, test, classNames, dataDir };
}

function readFiles(dir: string, files: readonly string[], perFile: number, scratch: Buffer): ImageSet {
  const set = allocateImageSet(files.length * perFile);
  files.forEach((name, i) => readBatchFile(path.join(dir, name), perFile, set, i * perFile, scratch));
  return set;
}

function recordsPerFileOption(options: ReadCifar10Options): number {
  const perFile = options.recordsPerFile ?? CIFAR10_RECORDS_PER_FILE;
  if (!Number.isInteger(perFile) || perFile <= 0) {
    throw new RangeError(`recordsPerFile must be a positive integer, got ${perFile} (the real dataset has ${CIFAR10_RECORDS_PER_FILE})`);
  }
  return perFile;
}
