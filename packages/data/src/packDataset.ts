import * as fs from 'fs';
import { availableParallelism } from 'os';
import * as path from 'path';
import sharp from 'sharp';
import { Rng } from '@convoy/tensor';
import { CIFAR10_TEST_FILES, CIFAR10_TRAIN_FILES } from './cifar10Format';
import { DatasetError } from './datasetError';
import { MAX_RESOLUTION } from './decodeImage';
import { decodeImages, type BadImage } from './decodeImages';
import { greyFromPlanar, isImageChannels, type ImageChannels } from './imageChannels';
import { imageFolderCacheKey } from './imageFolderCache';
import { readImageFolderLayout } from './imageFolderLayout';
import { imageBytes, type ImageSet } from './imageSet';
import { addChannelSums, channelSums, normalizationFromSums, type ChannelSums } from './normalization';
import {
  DEFAULT_SHARD_BYTES, encodeShard, fileSha256, imagesPerShard, PACKED_FORMAT, PACKED_INDEX, PACKED_VERSION, sha256Hex, shardFileName,
  type PackedIndex, type PackedShard, type PackedSplit,
} from './packedFormat';
import type { CountProgressHandler } from './progress';
import { findDatasetFolder, readCifar10 } from './readCifar10';
import { removeStaleTemporaries, temporaryPath } from './temporaryFiles';

export interface PackDatasetOptions {
  /** Square side R every image is decoded to (CIFAR-10's 32 x 32 images are resized to it). */
  resolution: number;
  /** 3 (RGB, default) or 1 (grey: decodeImage's `channels: 1`, CIFAR-10 converted by the same formula). */
  channels?: ImageChannels;
  /** Upper bound on a shard file's size (default 256 MiB). */
  shardBytes?: number;
  /** An image folder of class folders only: the held-out test fraction (seeded by `seed`). */
  valSplit?: number;
  seed?: number;
  /** Leave out (and count) files that are not usable images instead of failing. */
  skipBadImages?: boolean;
  /** Decodes in flight at once (default: the number of cores). */
  concurrency?: number;
  /** Images packed so far (resumed shards count at once). */
  onProgress?: CountProgressHandler;
  /** A shard was written or kept from an interrupted run. */
  onShard?: (event: { split: PackedSplit; shard: PackedShard; reused: boolean }) => void;
}

export interface PackResult {
  index: PackedIndex;
  /** Shards written by this call, and kept (verified by SHA-256) from an interrupted one. */
  written: number;
  reused: number;
  /** Files left out by skipBadImages. */
  skipped: BadImage[];
  /** 'packed': this call finished it; 'complete': the folder already held this packing. */
  outcome: 'packed' | 'complete';
}

/** The packing in progress: finished shards (with their training statistics), so an interrupted run resumes. */
const PACK_STATE = 'pack-state.json';

/** True when `dir` holds an interrupted packing (its state file and no index yet). */
export function isUnfinishedPacking(dir: string): boolean {
  return fs.existsSync(path.join(dir, PACK_STATE)) && !fs.existsSync(path.join(dir, PACKED_INDEX));
}
// Keeps the packing shuffle's stream apart from every other Rng.forKey stream.
const PACK_STREAM = 0x5041434b; // "PACK"

interface PackState {
  key: string;
  shards: Record<string, { shard: PackedShard; sums: ChannelSums | null; skipped: BadImage[] }>;
}

/** The images of one split, in packing order, and how to decode a run of them. */
interface SplitSource {
  readonly count: number;
  /** Decodes images [from, to) of this split into pixels/labels (image k at k - from); returns the bad ones (index = position in the split). */
  decode(from: number, to: number, pixels: Uint8Array, labels: Uint8Array): Promise<BadImage[]>;
}

interface PackSource {
  readonly root: string;
  readonly classNames: readonly string[];
  /** Names the source's content (files, sizes, times) and the decoder: a resumed packing must read the same. */
  readonly key: string;
  readonly splits: Record<PackedSplit, SplitSource>;
}

/**
 * Packs an image folder (train/ and test/ class folders, or class folders with `valSplit`) or a
 * CIFAR-10 folder into `outDir`: images decoded at R on all cores, a seeded shuffle of each split
 * (so every shard mixes the classes, which a streaming reader's shuffle buffer relies on), shards
 * of at most `shardBytes`, then index.json with counts, class names, the training images'
 * normalisation and a SHA-256 per shard. Every file is written to a temporary name and renamed;
 * the index comes last. An interrupted packing resumes: shards listed in pack-state.json whose
 * SHA-256 still matches are kept, the rest decoded again.
 */
export async function packDataset(sourceDir: string, outDir: string, options: PackDatasetOptions): Promise<PackResult> {
  const { resolution } = options;
  if (!Number.isInteger(resolution) || resolution < 8 || resolution > MAX_RESOLUTION) {
    throw new RangeError(`--resolution must be an integer of 8 to ${MAX_RESOLUTION}, got ${resolution}`);
  }
  const channels = options.channels ?? 3;
  if (!isImageChannels(channels)) throw new RangeError(`--channels must be 1 (grey) or 3 (RGB), got ${String(channels)}`);
  const shardBytes = options.shardBytes ?? DEFAULT_SHARD_BYTES;
  const bytes = channels * resolution * resolution;
  if (!Number.isSafeInteger(shardBytes) || shardBytes < 1) throw new RangeError(`--shard-size must be a positive size, got ${shardBytes}`);
  const concurrency = Math.max(1, Math.floor(options.concurrency ?? availableParallelism()));
  const source = await openSource(sourceDir, resolution, channels, concurrency, options);
  const perShard = imagesPerShard(shardBytes, bytes);
  const key = sha256Hex(Buffer.from(JSON.stringify({ format: PACKED_VERSION, source: source.key, resolution, perShard, skipBad: options.skipBadImages === true })));

  const out = path.resolve(outDir);
  const existing = readJson<PackedIndex>(path.join(out, PACKED_INDEX));
  if (existing && existing.key === key) {
    return { index: existing, written: 0, reused: 0, skipped: [], outcome: 'complete' };
  }
  if (fs.existsSync(out) && fs.readdirSync(out).length > 0 && !fs.existsSync(path.join(out, PACK_STATE))) {
    throw new DatasetError(
      'BAD_IMAGE_FOLDER',
      `${out} is not empty and holds no packing of ${source.root} at ${resolution}x${resolution}. Fix: pass -o <new or empty folder>, or delete ${out} first.`,
    );
  }
  fs.mkdirSync(out, { recursive: true });
  removeStaleTemporaries(out);
  const previous = readJson<PackState>(path.join(out, PACK_STATE));
  const state: PackState = { key, shards: previous && previous.key === key ? previous.shards : {} };
  if (previous && previous.key !== key) {
    // Another packing (other source files, R or shard size) was interrupted here: its shards are of no use.
    for (const file of Object.keys(previous.shards)) fs.rmSync(path.join(out, file), { force: true });
  }
  writeAtomically(path.join(out, PACK_STATE), JSON.stringify(state));

  const total = source.splits.train.count + source.splits.test.count;
  let done = 0;
  let written = 0;
  let reused = 0;
  options.onProgress?.({ done, total });
  const pixels = new Uint8Array(Math.min(perShard, Math.max(source.splits.train.count, source.splits.test.count)) * bytes);
  const labels = new Uint8Array(pixels.length / bytes);
  const shards: Record<PackedSplit, PackedShard[]> = { train: [], test: [] };
  const sums: ChannelSums[] = [];
  const skipped: BadImage[] = [];
  for (const split of ['train', 'test'] as const) {
    const { count } = source.splits[split];
    for (let n = 0, from = 0; from < count; n++, from += perShard) {
      const to = Math.min(count, from + perShard);
      const file = shardFileName(split, n);
      const kept = state.shards[file];
      if (kept && fs.existsSync(path.join(out, file)) && fileSha256(path.join(out, file)) === kept.shard.sha256) {
        reused++;
        shards[split].push(kept.shard);
        if (kept.sums) sums.push(kept.sums);
        skipped.push(...kept.skipped);
        done += to - from;
        options.onShard?.({ split, shard: kept.shard, reused: true });
        options.onProgress?.({ done, total });
        continue;
      }
      const bad = await source.splits[split].decode(from, to, pixels, labels);
      if (bad.length > 0 && !options.skipBadImages) throw badImagesError(source.root, bad);
      const { images, labelBytes } = dropBad(pixels, labels, to - from, bad.map((b) => b.index - from), bytes);
      const set: ImageSet = { images, labels: labelBytes, count: labelBytes.length, channels, height: resolution, width: resolution };
      const content = encodeShard(labelBytes, images);
      const shard: PackedShard = { file, count: set.count, bytes: content.length, sha256: sha256Hex(content) };
      writeAtomically(path.join(out, file), content);
      const shardSums = split === 'train' && set.count > 0 ? channelSums(set) : null;
      if (shardSums) sums.push(shardSums);
      skipped.push(...bad);
      state.shards[file] = { shard, sums: shardSums, skipped: bad };
      writeAtomically(path.join(out, PACK_STATE), JSON.stringify(state));
      written++;
      shards[split].push(shard);
      done += to - from;
      options.onShard?.({ split, shard, reused: false });
      options.onProgress?.({ done, total });
    }
  }
  const trainCount = shards.train.reduce((t, s) => t + s.count, 0);
  if (trainCount === 0) throw new DatasetError('BAD_IMAGES', `${source.root}: no usable training images; nothing to pack.`);
  const index: PackedIndex = {
    format: PACKED_FORMAT,
    version: PACKED_VERSION,
    resolution,
    channels,
    classNames: [...source.classNames],
    normalization: normalizationFromSums(addChannelSums(sums)),
    source: source.root,
    splits: {
      train: { count: trainCount, shards: shards.train },
      test: { count: shards.test.reduce((t, s) => t + s.count, 0), shards: shards.test },
    },
    key,
  };
  writeAtomically(path.join(out, PACKED_INDEX), `${JSON.stringify(index, null, 1)}\n`);
  fs.rmSync(path.join(out, PACK_STATE), { force: true });
  return { index, written, reused, skipped, outcome: 'packed' };
}

/** An image folder or a CIFAR-10 folder (told apart by CIFAR-10's data_batch_1.bin). */
async function openSource(dir: string, resolution: number, channels: ImageChannels, concurrency: number, options: PackDatasetOptions): Promise<PackSource> {
  const cifar = findDatasetFolder(path.resolve(dir));
  return cifar ? cifar10Source(cifar, resolution, channels, concurrency) : imageFolderSource(dir, resolution, channels, concurrency, options);
}

function imageFolderSource(dir: string, resolution: number, channels: ImageChannels, concurrency: number, options: PackDatasetOptions): PackSource {
  const layout = readImageFolderLayout(dir, { valSplit: options.valSplit, seed: options.seed });
  const split = (positions: readonly number[], stream: number): SplitSource => {
    const entries = shuffled(positions.length, stream).map((k) => layout.entries[positions[k]]);
    const files = entries.map((e) => e.file);
    return {
      count: entries.length,
      async decode(from, to, pixels, labels) {
        for (let k = from; k < to; k++) labels[k - from] = entries[k].label;
        const bad = await decodeImages(layout.root, files.slice(from, to), resolution, pixels, (i) => i, { channels, concurrency });
        return bad.map((b) => ({ ...b, index: b.index + from }));
      },
    };
  };
  return {
    root: layout.root,
    classNames: layout.classNames,
    key: imageFolderCacheKey(layout.root, layout.entries, resolution, channels) + JSON.stringify({ valSplit: options.valSplit ?? null, seed: options.seed ?? 0 }),
    splits: { train: split(layout.order.slice(0, layout.trainCount), 0), test: split(layout.order.slice(layout.trainCount), 1) },
  };
}

function cifar10Source(dir: string, resolution: number, channels: ImageChannels, concurrency: number): PackSource {
  const data = readCifar10(dir);
  const stat = (f: string) => fs.statSync(path.join(dir, f));
  // RGB keys are those of before grey packing existed (a finished RGB packing stays complete).
  const files = [...CIFAR10_TRAIN_FILES, ...CIFAR10_TEST_FILES].map((f) => [f, stat(f).size, stat(f).mtimeMs]).concat([[sharp.versions.vips ?? '']]);
  const key = JSON.stringify(channels === 3 ? files : files.concat([['channels', channels]]));
  const split = (set: ImageSet, stream: number): SplitSource => {
    const order = shuffled(set.count, stream);
    const from32 = imageBytes(set);
    const bytes = channels * resolution * resolution;
    return {
      count: set.count,
      async decode(from, to, pixels, labels) {
        let next = from;
        const lane = async () => {
          while (next < to) {
            const k = next++;
            const src = order[k];
            labels[k - from] = set.labels[src];
            const image = set.images.subarray(src * from32, (src + 1) * from32);
            const out = pixels.subarray((k - from) * bytes, (k - from + 1) * bytes);
            // Grey as decodeImage makes it: resized in RGB first, then PIL's luma.
            const resized = resolution === set.height ? image : await resizePlanar(image, set.height, resolution, channels === 3 ? out : new Uint8Array(3 * resolution * resolution));
            if (channels === 1) greyFromPlanar(resized, resolution * resolution, out);
            else if (resized !== out) out.set(resized);
          }
        };
        await Promise.all(Array.from({ length: Math.min(concurrency, to - from) }, lane));
        return [];
      },
    };
  };
  return { root: data.dataDir, classNames: data.classNames, key, splits: { train: split(data.train, 0), test: split(data.test, 1) } };
}

/** A planar 3 x side x side image resized to 3 x R x R with libvips' Lanczos-3 (decodeImage's resize), written into `out` and returned. */
async function resizePlanar(image: Uint8Array, side: number, resolution: number, out: Uint8Array): Promise<Uint8Array> {
  const plane = side * side;
  const interleaved = Buffer.alloc(3 * plane);
  for (let p = 0; p < plane; p++) for (let c = 0; c < 3; c++) interleaved[3 * p + c] = image[c * plane + p];
  const data = await sharp(interleaved, { raw: { width: side, height: side, channels: 3 } }).resize(resolution, resolution, { fit: 'fill' }).raw().toBuffer();
  const outPlane = resolution * resolution;
  for (let p = 0; p < outPlane; p++) for (let c = 0; c < 3; c++) out[c * outPlane + p] = data[3 * p + c];
  return out;
}

/** 0..count-1 in the packing's seeded order for a split (fixed: a packed folder is the same on every machine). */
function shuffled(count: number, stream: number): number[] {
  return Array.from(Rng.forKey(0, PACK_STREAM, stream).shuffle(Uint32Array.from({ length: count }, (_, i) => i)));
}

/** The images that decoded, packed to the front; views of the scratch buffers. */
function dropBad(pixels: Uint8Array, labels: Uint8Array, count: number, bad: number[], bytes: number): { images: Uint8Array; labelBytes: Uint8Array } {
  const isBad = new Set(bad);
  let kept = 0;
  for (let k = 0; k < count; k++) {
    if (isBad.has(k)) continue;
    if (kept !== k) {
      pixels.copyWithin(kept * bytes, k * bytes, (k + 1) * bytes);
      labels[kept] = labels[k];
    }
    kept++;
  }
  return { images: pixels.subarray(0, kept * bytes), labelBytes: labels.subarray(0, kept) };
}

function badImagesError(root: string, bad: readonly BadImage[]): DatasetError {
  const listed = bad.slice(0, 10).map((b) => `  ${path.join(root, b.file)}: ${b.reason}`);
  return new DatasetError(
    'BAD_IMAGES',
    [
      `${bad.length} files under ${root} cannot be used as images:`,
      ...listed,
      ...(bad.length > 10 ? [`  ... and ${bad.length - 10} more`] : []),
      'Fix: replace or delete those files and pack again (finished shards are kept), or pass --skip-bad-images to pack without them.',
    ].join('\n'),
  );
}

/** Writes to `<file>.tmp-<pid>-<random>`, fsync, rename: the file is either absent, the old one, or complete. */
function writeAtomically(file: string, content: string | Uint8Array): void {
  const tmp = temporaryPath(file);
  try {
    const fd = fs.openSync(tmp, 'w');
    try {
      fs.writeFileSync(fd, content);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  } catch (error) {
    fs.rmSync(tmp, { force: true });
    throw error;
  }
}

function readJson<T>(file: string): T | null {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
  } catch {
    return null;
  }
}

