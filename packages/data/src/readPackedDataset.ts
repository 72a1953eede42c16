import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { DatasetError } from './datasetError';
import { isImageChannels } from './imageChannels';
import type { ImageSet } from './imageSet';
import { PACKED_FORMAT, PACKED_INDEX, PACKED_VERSION, SHARD_HEADER_BYTES, SHARD_MAGIC, shardFileBytes, type PackedIndex, type PackedSplit } from './packedFormat';
import type { CountProgressHandler } from './progress';
import type { ImageFolder } from './loadImageFolder';

export interface ReadPackedOptions {
  /** Leave out damaged or missing shards (counted in `lost`) instead of failing. */
  skipBadShards?: boolean;
  /** The splits to read (default both; eval reads only 'test'). A split not read is an empty set. */
  splits?: readonly PackedSplit[];
  /** Images read so far. */
  onProgress?: CountProgressHandler;
  /** Read only the first test shards that hold this many images (what --limit-test evaluates at most). */
  testLimit?: number;
}

/** What an image folder gives a run (its images, classes, normalisation, side and root), read from shards. */
export interface PackedDataset extends Pick<ImageFolder, 'train' | 'test' | 'classNames' | 'normalization' | 'resolution' | 'channels' | 'root'> {
  /** Shards left out by skipBadShards (file and why) and the images they held. */
  lost: { shards: { file: string; reason: string }[]; images: number };
  /** Shard bytes read from disk. */
  bytesRead: number;
}

/** Reads and checks `dir`/index.json; DatasetError naming the file and the fix when it is missing or not a packed index. */
export function readPackedIndex(dir: string): PackedIndex {
  const file = path.join(path.resolve(dir), PACKED_INDEX);
  let index: PackedIndex;
  try {
    index = JSON.parse(fs.readFileSync(file, 'utf8')) as PackedIndex;
  } catch (error) {
    throw new DatasetError('BAD_SHARD', `${file} cannot be read as a packed dataset's index (${(error as Error).message}). Fix: pack the dataset again with \`convoy pack\`.`);
  }
  const splitOk = (s: PackedIndex['splits']['train'] | undefined) =>
    !!s && isList(s.shards) && s.shards.every((x) => typeof x.file === 'string' && !x.file.includes('/') && Number.isInteger(x.count) && Number.isInteger(x.bytes) && /^[0-9a-f]{64}$/.test(x.sha256)) &&
    s.count === s.shards.reduce((t, x) => t + x.count, 0);
  const ok =
    index && index.format === PACKED_FORMAT && Number.isInteger(index.resolution) && index.resolution > 0 && isImageChannels(index.channels) &&
    isList(index.classNames) && index.classNames.length > 0 && index.classNames.length <= 256 && splitOk(index.splits?.train) && splitOk(index.splits?.test) &&
    [...index.splits.train.shards, ...index.splits.test.shards].every((s) => s.bytes === shardFileBytes(s.count, index.channels * index.resolution * index.resolution));
  if (!ok) throw new DatasetError('BAD_SHARD', `${file} is not a well-formed packed dataset index. Fix: pack the dataset again with \`convoy pack\`.`);
  if (index.version !== PACKED_VERSION) {
    throw new DatasetError('BAD_SHARD', `${file} is packed in format version ${index.version}; this convoy reads version ${PACKED_VERSION}. Fix: pack the dataset again with this convoy.`);
  }
  return index;
}

/** Array.isArray without its narrowing (which turns a readonly array's type into any[]). */
function isList(value: unknown): boolean {
  return Array.isArray(value);
}

/**
 * Shards that are missing or of the wrong size, found from the index and the file sizes alone
 * (before any pixel is read): `{ file, reason }` each, naming the shard's place in its split.
 */
export function missingOrCutShards(dir: string, index: PackedIndex, splits: readonly PackedSplit[] = ['train', 'test']): { file: string; reason: string }[] {
  const problems: { file: string; reason: string }[] = [];
  for (const split of splits) {
    const list = index.splits[split].shards;
    list.forEach((shard, n) => {
      const file = path.join(path.resolve(dir), shard.file);
      const where = `shard ${n + 1} of ${list.length} of the ${split} split, ${shard.count} images`;
      let size: number;
      try {
        size = fs.statSync(file).size;
      } catch {
        problems.push({ file, reason: `missing (${where})` });
        return;
      }
      if (size !== shard.bytes) problems.push({ file, reason: `${size} bytes, the index says ${shard.bytes}: cut or overwritten (${where})` });
    });
  }
  return problems;
}

/**
 * A packed dataset held whole in memory: every shard of the splits asked for read into one
 * SharedArrayBuffer (as loadImageFolder), each checked against its SHA-256 as it is read. Missing
 * or cut shards are reported before anything is read; a shard whose bytes do not match (a flipped
 * byte) when it is reached. Without skipBadShards that is a DatasetError BAD_SHARD naming the file
 * and its place; with it, the shard is left out and counted.
 */
export function readPackedDataset(dir: string, options: ReadPackedOptions = {}): PackedDataset {
  const root = path.resolve(dir);
  const index = readPackedIndex(root);
  const splits = options.splits ?? ['train', 'test'];
  const lostShards = missingOrCutShards(root, index, splits);
  if (lostShards.length > 0 && !options.skipBadShards) throw badShardsError(lostShards);
  const skip = new Set(lostShards.map((s) => path.basename(s.file)));
  const bytes = index.channels * index.resolution * index.resolution;
  const shardsOf = (split: PackedSplit) => {
    const list = index.splits[split].shards;
    if (split !== 'test' || options.testLimit === undefined) return list;
    let held = 0;
    return list.filter((shard) => {
      const needed = held < options.testLimit!;
      if (needed && !skip.has(shard.file)) held += shard.count;
      return needed;
    });
  };
  const wanted = (split: PackedSplit) => (splits.includes(split) ? shardsOf(split).reduce((t, s) => t + s.count, 0) : 0);
  const capacity = wanted('train') + wanted('test');
  const pixels = new Uint8Array(new SharedArrayBuffer(capacity * bytes));
  const labels = new Uint8Array(new SharedArrayBuffer(capacity));
  let lostImages = index.splits.train.shards.concat(index.splits.test.shards).filter((s) => skip.has(s.file)).reduce((t, s) => t + s.count, 0);
  let cursor = 0;
  let bytesRead = 0;
  const ranges: Record<PackedSplit, [number, number]> = { train: [0, 0], test: [0, 0] };
  options.onProgress?.({ done: 0, total: capacity });
  for (const split of ['train', 'test'] as const) {
    const start = cursor;
    if (splits.includes(split)) {
      const list = index.splits[split].shards;
      shardsOf(split).forEach((shard, n) => {
        if (skip.has(shard.file)) return;
        const file = path.join(root, shard.file);
        const problem = readShardInto(file, shard.count, shard.sha256, index.classNames.length, labels.subarray(cursor, cursor + shard.count), pixels.subarray(cursor * bytes, (cursor + shard.count) * bytes));
        bytesRead += shard.bytes;
        if (problem) {
          const bad = { file, reason: `${problem} (shard ${n + 1} of ${list.length} of the ${split} split, ${shard.count} images)` };
          if (!options.skipBadShards) throw badShardsError([bad]);
          lostShards.push(bad);
          lostImages += shard.count;
          return;
        }
        cursor += shard.count;
        options.onProgress?.({ done: cursor, total: capacity });
      });
    }
    ranges[split] = [start, cursor];
  }
  const view = ([from, to]: [number, number]): ImageSet => ({
    images: pixels.subarray(from * bytes, to * bytes),
    labels: labels.subarray(from, to),
    count: to - from,
    channels: index.channels,
    height: index.resolution,
    width: index.resolution,
  });
  return {
    train: view(ranges.train),
    test: view(ranges.test),
    classNames: [...index.classNames],
    normalization: index.normalization,
    resolution: index.resolution,
    channels: index.channels,
    root,
    lost: { shards: lostShards, images: lostImages },
    bytesRead,
  };
}

/** Reads one shard into labels/pixels, hashing as it goes; the problem in words, or null when it is whole. */
function readShardInto(file: string, count: number, sha256: string, classes: number, labels: Uint8Array, pixels: Uint8Array): string | null {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (error) {
    return `cannot be opened (${(error as Error).message})`;
  }
  try {
    const hash = createHash('sha256');
    const head = Buffer.alloc(SHARD_HEADER_BYTES);
    let position = 0;
    const read = (into: Uint8Array): boolean => {
      for (let done = 0; done < into.length; ) {
        const n = fs.readSync(fd, into, done, Math.min(into.length - done, 64 * 1024 * 1024), position);
        if (n <= 0) return false;
        done += n;
        position += n;
      }
      hash.update(into);
      return true;
    };
    if (!read(head) || !read(labels) || !read(pixels)) return 'ends early: cut';
    if (fs.fstatSync(fd).size !== position) return 'has bytes after its last image';
    if (hash.digest('hex') !== sha256) return 'its SHA-256 is not the index\'s: damaged (a changed byte)';
    if (!head.subarray(0, SHARD_MAGIC.length).equals(SHARD_MAGIC) || head.readUInt32LE(SHARD_MAGIC.length) !== count) return 'its header does not match the index';
    const badLabel = labels.findIndex((l) => l >= classes);
    if (badLabel >= 0) return `image ${badLabel} has label ${labels[badLabel]}, but there are ${classes} classes`;
    return null;
  } finally {
    fs.closeSync(fd);
  }
}

export function badShardsError(bad: readonly { file: string; reason: string }[]): DatasetError {
  return new DatasetError(
    'BAD_SHARD',
    [
      `${bad.length} shard${bad.length > 1 ? 's' : ''} of the packed dataset cannot be used:`,
      ...bad.map((b) => `  ${b.file}: ${b.reason}`),
      'Fix: pack the dataset again with `convoy pack` (finished shards are checked and kept), copy the shard again from where it came, or pass --skip-bad-shards to train without it (the images lost are reported).',
    ].join('\n'),
  );
}
