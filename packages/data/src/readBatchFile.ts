import * as fs from 'fs';
import * as path from 'path';
import {
  CIFAR10_CLASS_COUNT,
  CIFAR10_IMAGE_BYTES,
  CIFAR10_RECORD_BYTES,
  formatCount,
} from './cifar10Format';
import { DatasetError, redownloadHint } from './datasetError';
import { ImageSet } from './imageSet';

/**
 * Checks a batch file's presence and size before a byte is read: a truncated or padded file
 * fails here with the expected and found sizes.
 */
export function validateBatchFileSize(file: string, expectedRecords: number): void {
  const dir = path.dirname(file);
  const name = path.basename(file);
  let size: number;
  try {
    const stat = fs.statSync(file);
    if (!stat.isFile()) throw new Error('not a regular file');
    size = stat.size;
  } catch {
    throw new DatasetError(
      'MISSING_FILE',
      `CIFAR-10 file ${name} is missing from ${dir} (expected ${formatCount(expectedRecords * CIFAR10_RECORD_BYTES)} bytes, ` +
        `${formatCount(expectedRecords)} records). ${redownloadHint(dir)}`,
    );
  }
  const expectedBytes = expectedRecords * CIFAR10_RECORD_BYTES;
  if (size % CIFAR10_RECORD_BYTES !== 0) {
    throw new DatasetError(
      'BAD_SIZE',
      `CIFAR-10 file ${file} has ${formatCount(size)} bytes, which is not a whole number of ${formatCount(CIFAR10_RECORD_BYTES)}-byte ` +
        `records (1 label byte + ${formatCount(CIFAR10_IMAGE_BYTES)} pixel bytes): expected ${formatCount(expectedBytes)} bytes ` +
        `(${formatCount(expectedRecords)} records); the file is truncated or padded. ${redownloadHint(dir)}`,
    );
  }
  const records = size / CIFAR10_RECORD_BYTES;
  if (records !== expectedRecords) {
    throw new DatasetError(
      'BAD_RECORD_COUNT',
      `CIFAR-10 file ${file} holds ${formatCount(records)} records (${formatCount(size)} bytes), expected ${formatCount(expectedRecords)} ` +
        `(${formatCount(expectedBytes)} bytes). ${redownloadHint(dir)}`,
    );
  }
}

/**
 * Reads one CIFAR-10 batch file into `target` starting at image `firstImage`, splitting each
 * 3,073-byte record into its label and its 3,072 planar pixel bytes, and rejects labels > 9.
 * `scratch` (at least the file's size) is reused across files so a full load allocates one
 * 30 MB read buffer, not six.
 */
export function readBatchFile(
  file: string,
  expectedRecords: number,
  target: ImageSet,
  firstImage: number,
  scratch?: Buffer,
): void {
  validateBatchFileSize(file, expectedRecords);
  if (firstImage + expectedRecords > target.count) {
    throw new RangeError(`readBatchFile: ${expectedRecords} records from image ${firstImage} do not fit a set of ${target.count}`);
  }
  const bytes = expectedRecords * CIFAR10_RECORD_BYTES;
  const buffer = scratch && scratch.length >= bytes ? scratch : Buffer.allocUnsafe(bytes);
  readExactly(file, buffer, bytes);
  parseBatchRecords(buffer.subarray(0, bytes), target, firstImage, file, redownloadHint(path.dirname(file)));
}

/**
 * Splits CIFAR-10 binary records (`bytes`: whole 3,073-byte records, as in a batch file) into
 * `target` from image `firstImage`: each record's label and its 3,072 planar pixel bytes. Labels
 * above 9 are refused. Needs no file system: a browser page parses the files a visitor drops in
 * with it. `source` names the bytes in errors; `hint` is appended to them.
 */
export function parseBatchRecords(bytes: Uint8Array, target: ImageSet, firstImage: number, source: string, hint = ''): void {
  if (bytes.byteLength % CIFAR10_RECORD_BYTES !== 0) {
    throw new DatasetError(
      'BAD_SIZE',
      `CIFAR-10 file ${source} has ${formatCount(bytes.byteLength)} bytes, which is not a whole number of ${formatCount(CIFAR10_RECORD_BYTES)}-byte ` +
        `records (1 label byte + ${formatCount(CIFAR10_IMAGE_BYTES)} pixel bytes): it is truncated, padded or not a CIFAR-10 binary batch file. ${hint}`.trim(),
    );
  }
  const records = bytes.byteLength / CIFAR10_RECORD_BYTES;
  if (firstImage + records > target.count) {
    throw new RangeError(`parseBatchRecords: ${records} records from image ${firstImage} do not fit a set of ${target.count}`);
  }
  const { images, labels } = target;
  for (let r = 0; r < records; r++) {
    const at = r * CIFAR10_RECORD_BYTES;
    const label = bytes[at];
    if (label >= CIFAR10_CLASS_COUNT) {
      throw new DatasetError(
        'BAD_LABEL',
        `CIFAR-10 file ${source}: record ${formatCount(r)} (byte offset ${formatCount(at)}) has label ${label}; expected a label 0-9. ` +
          `The file is corrupt or not the CIFAR-10 binary version (CIFAR-100 records carry 2 label bytes). ${hint}`.trim(),
      );
    }
    labels[firstImage + r] = label;
    images.set(bytes.subarray(at + 1, at + CIFAR10_RECORD_BYTES), (firstImage + r) * CIFAR10_IMAGE_BYTES);
  }
}

function readExactly(file: string, buffer: Buffer, bytes: number): void {
  const fd = fs.openSync(file, 'r');
  try {
    let done = 0;
    while (done < bytes) {
      const n = fs.readSync(fd, buffer, done, bytes - done, done);
      if (n === 0) {
        throw new DatasetError(
          'BAD_SIZE',
          `CIFAR-10 file ${file} ended after ${formatCount(done)} bytes while ${formatCount(bytes)} were expected (it changed while being read?). ` +
            redownloadHint(path.dirname(file)),
        );
      }
      done += n;
    }
  } finally {
    fs.closeSync(fd);
  }
}
