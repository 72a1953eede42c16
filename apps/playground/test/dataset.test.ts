import { CIFAR10_RECORD_BYTES } from '@convoy/data';
import { parseCifar10Files } from '../src/dataset';

/** `records` CIFAR-10 records whose label is r % 10 and whose pixels are all r. */
function batchFile(records: number): Uint8Array {
  const bytes = new Uint8Array(records * CIFAR10_RECORD_BYTES);
  for (let r = 0; r < records; r++) {
    bytes.fill(r, r * CIFAR10_RECORD_BYTES, (r + 1) * CIFAR10_RECORD_BYTES);
    bytes[r * CIFAR10_RECORD_BYTES] = r % 10;
  }
  return bytes;
}

describe('parseCifar10Files (the files a visitor picks)', () => {
  it('puts the training files in number order whatever order they come in, the test file apart, on shared memory', () => {
    const data = parseCifar10Files(
      [
        { name: 'test_batch.bin', bytes: batchFile(2) },
        { name: 'data_batch_2.bin', bytes: batchFile(4) },
        { name: 'data_batch_1.bin', bytes: batchFile(3) },
      ],
      'picked',
    );
    expect(data.train.count).toBe(7);
    expect(Array.from(data.train.labels)).toEqual([0, 1, 2, 0, 1, 2, 3]);
    expect(data.test?.count).toBe(2);
    expect(Object.prototype.toString.call(data.train.images.buffer)).toBe('[object SharedArrayBuffer]');
    expect(data.classNames).toHaveLength(10);
  });

  it('trains without a test file (no test accuracy then)', () => {
    expect(parseCifar10Files([{ name: 'data_batch_3.bin', bytes: batchFile(1) }], 'picked').test).toBeNull();
  });

  it('says what is wrong with the files', () => {
    expect(() => parseCifar10Files([{ name: 'photo.jpg', bytes: new Uint8Array(3) }], 'picked')).toThrow(/\bCIFAR-10\b.*\bphoto\.jpg\b.*\bdata_batch_1\.bin\b/);
    expect(() => parseCifar10Files([{ name: 'test_batch.bin', bytes: batchFile(1) }], 'picked')).toThrow(/no training file among them/);
    expect(() => parseCifar10Files([{ name: 'data_batch_1.bin', bytes: batchFile(2).subarray(0, 5000) }], 'picked')).toThrow(
      /\bdata_batch_1\.bin\b.*\b5000 bytes\b.*\b3073\b/,
    );
    const badLabel = batchFile(1);
    badLabel[0] = 12;
    expect(() => parseCifar10Files([{ name: 'data_batch_1.bin', bytes: badLabel }], 'picked')).toThrow(/\bdata_batch_1\.bin: record 0\b.*\blabel 12\b/);
  });
});
