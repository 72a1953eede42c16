import {
  allocateImageSet, badShardsError, consoleCountProgress, DatasetError, isPackedDataset, isUnfinishedPacking, loadCifar10, loadImageFolder, missingOrCutShards, readPackedDataset, readPackedIndex, selectSubsets,
  trainSplitBytes, type Cifar10, type ImageChannels, type Normalization, type PackedIndex, type PackedSplit,
} from '@convoy/data';
import { basename } from 'node:path';
import type { CheckpointState } from '@convoy/run';
import type { DataOptions } from '../cliOptions';
import { userPath } from '../config';
import { UsageError } from '../usageError';

/** CIFAR-10 as the data flags (and $CIFAR10_DIR) say; paths resolved as the user typed them. */
export async function loadData(opts: DataOptions): Promise<Cifar10> {
  const env = { ...process.env };
  if (env.CIFAR10_DIR) env.CIFAR10_DIR = userPath(env.CIFAR10_DIR);
  return loadCifar10({ dataDir: opts.dataDir ? userPath(opts.dataDir) : undefined, env, download: opts.download !== false });
}

/** A packed training split bigger than --data-memory: not read here, but streamed from its shards while training. */
export interface StreamedSplit {
  root: string;
  index: PackedIndex;
  /** Shard files found missing or cut before training (left out under --skip-bad-shards). */
  leftOut: Set<string>;
}

/**
 * A training dataset as the trainer uses it: CIFAR-10, or an image folder with its own
 * normalisation; with `streamed`, `train` is empty and the training images come from the shards.
 */
export type TrainingData = Cifar10 & { normalization?: Normalization; streamed?: StreamedSplit };

/** How the --data image folder is read (see loadImageFolder). */
export interface ImageFolderFlags {
  folder: string;
  resolution: number;
  /** 3 (RGB) or 1 (grey): what every image is decoded to (a packed folder must have been packed so). */
  channels: ImageChannels;
  valSplit: number | null;
  seed: number;
  skipBadImages: boolean;
  imageCache: boolean;
  /** A packed folder: leave out damaged or missing shards (counted) instead of stopping. */
  skipBadShards: boolean;
  /** A packed folder: the splits to read (eval reads only 'test'). */
  splits?: readonly PackedSplit[];
  /** A packed folder: the bytes of training split it may hold (--data-memory); a bigger one is streamed. Default: held whole. */
  dataMemory?: number;
  /** A streamed packed folder: read only the test shards that hold this many images (--limit-test), so the test split stays small too. */
  limitTest?: number | null;
  threads: number;
  log: (line: string) => void;
}

/** The side and channels of a packed --data folder's images (fixed when it was packed), or null for an image folder. */
export function packedInput(folder: string): { resolution: number; channels: ImageChannels } | null {
  const dir = userPath(folder);
  if (!isPackedDataset(dir)) return null;
  const { resolution, channels } = readPackedIndex(dir);
  return { resolution, channels };
}

/** ' grey' for 1-channel images, nothing for RGB (the usual case), in the data lines. */
function greyWord(channels: ImageChannels): string {
  return channels === 1 ? ' grey' : '';
}

/** A packed --data folder (see `convoy pack`), held whole in memory, every shard checked against its SHA-256. */
function loadPackedData(flags: ImageFolderFlags): TrainingData {
  const dir = userPath(flags.folder);
  const index = readPackedIndex(dir);
  const splits = flags.splits ?? ['train', 'test'];
  if (splits.includes('train') && flags.dataMemory !== undefined && trainSplitBytes(index) > flags.dataMemory) return streamedPackedData(dir, index, flags);
  const started = performance.now();
  const packed = readPackedDataset(dir, { skipBadShards: flags.skipBadShards, splits, onProgress: consoleCountProgress('Reading packed shards') });
  if (packed.channels !== flags.channels) {
    throw new UsageError(`${packed.root} was packed with ${packed.channels}-channel images; this run needs ${flags.channels}. Pack the images again with \`convoy pack <source> --channels ${flags.channels}\``);
  }
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  flags.log(
    `convoy: ${packed.train.count} training and ${packed.test.count} test images of ${packed.classNames.length} classes (${packed.classNames.join(', ')}) ` +
      `at ${packed.resolution}x${packed.resolution}${greyWord(packed.channels)} from the packed dataset ${packed.root}, ${(packed.bytesRead / 1024 / 1024).toFixed(1)} MB read in ${seconds} s`,
  );
  if (packed.lost.shards.length > 0) {
    flags.log(
      `convoy: --skip-bad-shards left out ${packed.lost.shards.length} shard${packed.lost.shards.length > 1 ? 's' : ''} holding ${packed.lost.images} images: ` +
        packed.lost.shards.map((s) => `${s.file} (${s.reason})`).join('; '),
    );
  }
  return { train: packed.train, test: packed.test, classNames: packed.classNames, dataDir: packed.root, normalization: packed.normalization };
}

/** A packed folder whose training split is streamed: its test split is read (whole, or what --limit-test needs), missing or cut training shards are found now. */
function streamedPackedData(dir: string, index: PackedIndex, flags: ImageFolderFlags): TrainingData {
  if (index.channels !== flags.channels) {
    throw new UsageError(`${dir} was packed with ${index.channels}-channel images; this run needs ${flags.channels}. Pack the images again with \`convoy pack <source> --channels ${flags.channels}\``);
  }
  const problems = missingOrCutShards(dir, index, ['train']);
  if (problems.length > 0 && !flags.skipBadShards) throw badShardsError(problems);
  const packed = readPackedDataset(dir, {
    skipBadShards: flags.skipBadShards, splits: ['test'], onProgress: consoleCountProgress('Reading packed test shards'), ...(flags.limitTest ? { testLimit: flags.limitTest } : {}),
  });
  const lostImages = problems.reduce((t, p) => t + (index.splits.train.shards.find((s) => s.file === basename(p.file))?.count ?? 0), 0);
  flags.log(
    `convoy: ${index.splits.train.count} training images (streamed from ${index.splits.train.shards.length} shards) and ${packed.test.count} test images of ${index.classNames.length} classes ` +
      `at ${index.resolution}x${index.resolution} from the packed dataset ${packed.root}`,
  );
  const lost = [...problems, ...packed.lost.shards];
  if (lost.length > 0) {
    flags.log(`convoy: --skip-bad-shards left out ${lost.length} shard${lost.length > 1 ? 's' : ''} holding ${lostImages + packed.lost.images} images: ${lost.map((s) => `${s.file} (${s.reason})`).join('; ')}`);
  }
  const shape = { channels: index.channels, height: index.resolution, width: index.resolution };
  return {
    train: allocateImageSet(0, shape), test: packed.test, classNames: packed.classNames, dataDir: packed.root, normalization: packed.normalization,
    streamed: { root: packed.root, index, leftOut: new Set(problems.map((p) => basename(p.file))) },
  };
}

/**
 * The --data folder: a packed dataset (read whole), or an image folder decoded at --resolution (or read from the image cache), split by --val-split
 * when it has no train/ and test/. Says where the pixels came from and what was skipped.
 */
export async function loadImageFolderData(flags: ImageFolderFlags): Promise<TrainingData> {
  if (isPackedDataset(userPath(flags.folder))) return loadPackedData(flags);
  if (isUnfinishedPacking(userPath(flags.folder))) {
    throw new DatasetError('BAD_SHARD', `${userPath(flags.folder)} is a packing that was interrupted (it has no index.json yet). Fix: run the same \`convoy pack ... -o ${flags.folder}\` again to finish it (the shards it wrote are kept).`);
  }
  if (flags.skipBadShards) throw new UsageError(`--skip-bad-shards is for a packed --data folder (see \`convoy pack\`); ${flags.folder} is an image folder (use --skip-bad-images)`);
  // sharp decodes on libuv's thread pool (4 threads unless set before its first use): one per worker thread.
  process.env.UV_THREADPOOL_SIZE ??= String(Math.max(4, flags.threads));
  const started = performance.now();
  const folder = await loadImageFolder(userPath(flags.folder), {
    resolution: flags.resolution,
    channels: flags.channels,
    valSplit: flags.valSplit ?? undefined,
    seed: flags.seed,
    skipBadImages: flags.skipBadImages,
    concurrency: flags.threads,
    ...(flags.imageCache ? {} : { cacheDir: null }),
  });
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  const how = folder.cache === 'hit' ? `read from the image cache ${folder.cacheFile}` : folder.cache === 'written' ? `decoded and cached in ${folder.cacheFile}` : 'decoded (no cache)';
  flags.log(
    `convoy: ${folder.train.count} training and ${folder.test.count} test images of ${folder.classNames.length} classes (${folder.classNames.join(', ')}) ` +
      `at ${folder.resolution}x${folder.resolution}${greyWord(folder.channels)} from ${folder.root}, ${how} in ${seconds} s`,
  );
  if (folder.skipped.length > 0) {
    const shown = folder.skipped.slice(0, 5).map((b) => `${b.file} (${b.reason})`).join('; ');
    flags.log(`convoy: --skip-bad-images left out ${folder.skipped.length} bad file${folder.skipped.length > 1 ? 's' : ''}: ${shown}${folder.skipped.length > 5 ? '; ...' : ''}`);
  }
  return { train: folder.train, test: folder.test, classNames: folder.classNames, dataDir: folder.root, normalization: folder.normalization };
}

/** The subset flags (`--classes`, `--limit-train`, `--limit-test`) applied; a bad `--classes` is a usage error. */
export function selectData<T extends Cifar10>(data: T, flags: { classes: string | null; limitTrain?: number | null; limitTest?: number | null }): T {
  try {
    return { ...data, ...selectSubsets(data, { classes: flags.classes ?? undefined, limitTrain: flags.limitTrain ?? undefined, limitTest: flags.limitTest ?? undefined }) };
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/**
 * The `--classes` selection of CIFAR-10 that gives a checkpoint's labels: null when its classes are
 * CIFAR-10's ten in label order, else their names in its order. A checkpoint of other images (or
 * another resolution) cannot be scored on CIFAR-10: that is an error naming the file.
 */
export function cifar10ClassesOf(state: Pick<CheckpointState, 'classNames' | 'resolution'>, file: string, cifarNames: readonly string[]): string | null {
  const foreign = state.classNames.filter((name) => !cifarNames.includes(name));
  if (foreign.length > 0 || state.resolution !== 32) {
    throw new UsageError(
      `${file} is a model of ${state.resolution}x${state.resolution} images of ${state.classNames.join(', ')}` +
        (foreign.length > 0 ? `; ${foreign.join(', ')} ${foreign.length === 1 ? 'is not a CIFAR-10 class' : 'are not CIFAR-10 classes'}` : '') +
        ', so it cannot be evaluated on CIFAR-10; evaluate it on its own images with --data <folder>',
    );
  }
  const allTen = state.classNames.length === cifarNames.length && state.classNames.every((name, i) => name === cifarNames[i]);
  return allTen ? null : state.classNames.join(',');
}
