/**
 * The official CIFAR-10 binary layout (https://www.cs.toronto.edu/~kriz/cifar.html):
 * each record is 1 label byte followed by 3,072 pixel bytes, the 1,024 red, then 1,024 green,
 * then 1,024 blue values of a 32x32 image in row-major order (planar CHW).
 */
export const CIFAR10_CHANNELS = 3;
export const CIFAR10_HEIGHT = 32;
export const CIFAR10_WIDTH = 32;
export const CIFAR10_IMAGE_BYTES = CIFAR10_CHANNELS * CIFAR10_HEIGHT * CIFAR10_WIDTH; // 3,072
export const CIFAR10_RECORD_BYTES = 1 + CIFAR10_IMAGE_BYTES; // 3,073
export const CIFAR10_CLASS_COUNT = 10;
export const CIFAR10_RECORDS_PER_FILE = 10_000;

export const CIFAR10_TRAIN_FILES: readonly string[] = [
  'data_batch_1.bin',
  'data_batch_2.bin',
  'data_batch_3.bin',
  'data_batch_4.bin',
  'data_batch_5.bin',
];
export const CIFAR10_TEST_FILES: readonly string[] = ['test_batch.bin'];
export const CIFAR10_META_FILE = 'batches.meta.txt';
export const CIFAR10_ALL_FILES: readonly string[] = [...CIFAR10_TRAIN_FILES, ...CIFAR10_TEST_FILES, CIFAR10_META_FILE];

/** The folder name inside the official archive. */
export const CIFAR10_ARCHIVE_FOLDER = 'cifar-10-batches-bin';
export const CIFAR10_URL = 'https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz';
export const CIFAR10_MD5 = 'c32a1d4ab5d03f1284b67883e8d87530';

/** Class names in label order, as in batches.meta.txt. */
export const CIFAR10_CLASS_NAMES: readonly string[] = [
  'airplane',
  'automobile',
  'bird',
  'cat',
  'deer',
  'dog',
  'frog',
  'horse',
  'ship',
  'truck',
];

/** "30,730,000": numbers in error messages are easier to compare with separators. */
export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}
