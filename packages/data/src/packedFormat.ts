import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import type { ImageChannels } from './imageChannels';
import type { Normalization } from './normalization';

/**
 * A packed dataset (`convoy pack`): a folder of shard files and one `index.json`, the layout of
 * docs/DISTRIBUTED.md "Packed datasets". A shard holds whole decoded images of one split:
 *
 *   MAGIC (8 bytes) | count (uint32 LE) | count label bytes | count x channels x R x R pixel bytes
 *
 * (planar CHW per image, the ImageSet layout), so a reader gets an ImageSet slice by copying two
 * runs of bytes. The index lists every shard with its image count, size and SHA-256, so damage is
 * found by name before or when a shard is read; it is written last, so a folder with an index is
 * complete.
 */
export const SHARD_MAGIC = Buffer.from('CVYSHD01');
export const SHARD_HEADER_BYTES = SHARD_MAGIC.length + 4;
export const PACKED_INDEX = 'index.json';
export const PACKED_FORMAT = 'convoy-packed';
export const PACKED_VERSION = 1;
/** The default shard size (`--shard-size`): big enough for sequential reads, small enough to stream. */
export const DEFAULT_SHARD_BYTES = 256 * 1024 * 1024;

export type PackedSplit = 'train' | 'test';

export interface PackedShard {
  /** File name inside the packed folder. */
  readonly file: string;
  readonly count: number;
  readonly bytes: number;
  /** SHA-256 of the whole file, hex. */
  readonly sha256: string;
}

export interface PackedIndex {
  readonly format: typeof PACKED_FORMAT;
  readonly version: number;
  readonly resolution: number;
  /** 3 (RGB) or 1 (grey, decodeImage's `channels: 1`). */
  readonly channels: ImageChannels;
  readonly classNames: readonly string[];
  /** Per-channel statistics of the training images (computeChannelStats' definition). */
  readonly normalization: Normalization;
  /** What was packed (the source folder as given), for messages only. */
  readonly source: string;
  /** Names the source's files, R and the shard size: packing the same again finds the folder complete. */
  readonly key: string;
  readonly splits: { readonly [S in PackedSplit]: { readonly count: number; readonly shards: readonly PackedShard[] } };
}

/** Bytes of a shard of `count` images of `imageBytes` bytes each. */
export function shardFileBytes(count: number, imageBytes: number): number {
  return SHARD_HEADER_BYTES + count * (1 + imageBytes);
}

/** Images per shard so a shard stays within `shardBytes` (at least one). */
export function imagesPerShard(shardBytes: number, imageBytes: number): number {
  return Math.max(1, Math.floor((shardBytes - SHARD_HEADER_BYTES) / (1 + imageBytes)));
}

/** The file name of shard `n` of `split`. */
export function shardFileName(split: PackedSplit, n: number): string {
  return `${split}-${String(n).padStart(5, '0')}.shard`;
}

/** A shard's bytes: header, labels, pixels. */
export function encodeShard(labels: Uint8Array, pixels: Uint8Array): Buffer {
  const head = Buffer.alloc(SHARD_HEADER_BYTES);
  SHARD_MAGIC.copy(head);
  head.writeUInt32LE(labels.length, SHARD_MAGIC.length);
  return Buffer.concat([head, labels, pixels]);
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** SHA-256 of a file, streamed in 8 MiB reads (a shard may be bigger than one wants to hold twice). */
export function fileSha256(file: string): string {
  const hash = createHash('sha256');
  const fd = fs.openSync(file, 'r');
  try {
    const chunk = Buffer.allocUnsafe(8 * 1024 * 1024);
    for (let n; (n = fs.readSync(fd, chunk, 0, chunk.length, null)) > 0; ) hash.update(chunk.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
  return hash.digest('hex');
}

/** True when `dir` holds a packed dataset's index (what `--data` checks to tell it from an image folder). */
export function isPackedDataset(dir: string): boolean {
  return fs.existsSync(path.join(dir, PACKED_INDEX));
}
