import {
  allocateImageSet, badShardsError, consoleCountProgress, DatasetError, isPackedDataset, isUnfinishedPacking, loadCifar10, loadImageFolder, missingOrCutShards, parseClasses, readPackedDataset, readPackedIndex,
  selectSubsets, shareDataMemory, TestStream, trainSplitBytes, type Cifar10, type DataMemoryShare, type ImageChannels, type Normalization, type PackedIndex, type PackedSplit,
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
  /** How --data-memory is shared with the test split (the stream gets trainBytes). */
  share: DataMemoryShare;
}

/**
 * A training dataset as the trainer uses it: CIFAR-10, or an image folder with its own
 * normalisation; with `streamed`, `train` is empty and the training images come from the shards;
 * with `testStream`, `test` is its window (the packed test split is read a window at a time).
 */
export type TrainingData = Cifar10 & { normalization?: Normalization; streamed?: StreamedSplit; testStream?: TestStream };

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
  /** A packed folder: the bytes of its splits it may hold (--data-memory, shared as shareDataMemory says); a split bigger than its share is streamed. Default: held whole. */
  dataMemory?: number;
  /** A packed folder whose test split is not held whole: read only the test shards that hold this many images (--limit-test). */
  limitTest?: number | null;
  /** A packed test split streamed: the classes it is evaluated on (--classes, as typed). */
  classes?: string | null;
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

/**
 * --data-memory given where nothing is packed: it bounds only a packed folder, and an image folder
 * or CIFAR-10 is held whole whatever it says, so a usage error says what to do (null when it applies).
 */
export function dataMemoryProblem(given: boolean, folder: string | undefined): string | null {
  if (!given || (folder && packedInput(folder))) return null;
  const what = folder ? `${folder} is an image folder, which is held whole in memory` : 'CIFAR-10 (184 MB) is held whole in memory';
  return `--data-memory bounds a packed --data folder (written by \`convoy pack\`); ${what}, so it cannot apply. Drop --data-memory, or pack the images (\`convoy pack ${folder ?? '<CIFAR-10 folder>'} --resolution R -o DIR\`) and use --data DIR`;
}

/** ' grey' for 1-channel images, nothing for RGB (the usual case), in the data lines. */
function greyWord(channels: ImageChannels): string {
  return channels === 1 ? ' grey' : '';
}

/**
 * A packed --data folder (see `convoy pack`): each split held whole in memory (every shard checked
 * against its SHA-256) or, when it is bigger than its share of --data-memory, streamed: the
 * training split from its shards while training, the test split a window at a time.
 */
async function loadPackedData(flags: ImageFolderFlags): Promise<TrainingData> {
  const dir = userPath(flags.folder);
  const index = readPackedIndex(dir);
  if (index.channels !== flags.channels) {
    throw new UsageError(`${dir} was packed with ${index.channels}-channel images; this run needs ${flags.channels}. Pack the images again with \`convoy pack <source> --channels ${flags.channels}\``);
  }
  const splits = flags.splits ?? ['train', 'test'];
  const share = flags.dataMemory === undefined ? null : shareDataMemory(index, flags.dataMemory, splits);
  const streamTrain = share !== null && splits.includes('train') && trainSplitBytes(index) > share.trainBytes;
  const started = performance.now();
  const testStream = share?.testWindowImages ? await openTestStream(dir, index, share, flags) : null;
  const held = splits.filter((split) => (split === 'train' ? !streamTrain : !testStream));
  const packed = readPackedDataset(dir, {
    skipBadShards: flags.skipBadShards, splits: held, onProgress: consoleCountProgress(streamTrain ? 'Reading packed test shards' : 'Reading packed shards'),
    // Only what --limit-test evaluates, when the training split does not fill memory anyway.
    ...(streamTrain && flags.limitTest ? { testLimit: flags.limitTest } : {}),
  });
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  const problems = streamTrain ? missingOrCutShards(dir, index, ['train']) : [];
  if (problems.length > 0 && !flags.skipBadShards) throw badShardsError(problems);
  const trainLost = problems.reduce((t, p) => t + (index.splits.train.shards.find((s) => s.file === basename(p.file))?.count ?? 0), 0);
  const trainWords = streamTrain ? `${index.splits.train.count} training images (streamed from ${index.splits.train.shards.length} shards)` : `${packed.train.count} training`;
  const testWords = testStream ? `${testStream.count} test images (read ${testStream.window.count} at a time from the test shards)` : `${packed.test.count} test images`;
  flags.log(
    `convoy: ${trainWords} and ${testWords} of ${index.classNames.length} classes (${index.classNames.join(', ')}) ` +
      `at ${index.resolution}x${index.resolution}${greyWord(index.channels)} from the packed dataset ${packed.root}, ${((packed.bytesRead + (testStream?.bytesVerified ?? 0)) / 1024 / 1024).toFixed(1)} MB read in ${seconds} s`,
  );
  const lost = [...problems, ...packed.lost.shards, ...(testStream?.lost.shards ?? [])];
  if (lost.length > 0) {
    const images = trainLost + packed.lost.images + (testStream?.lost.images ?? 0);
    flags.log(`convoy: --skip-bad-shards left out ${lost.length} shard${lost.length > 1 ? 's' : ''} holding ${images} images: ${lost.map((s) => `${s.file} (${s.reason})`).join('; ')}`);
  }
  const shape = { channels: index.channels, height: index.resolution, width: index.resolution };
  return {
    train: streamTrain ? allocateImageSet(0, shape) : packed.train, test: testStream?.window ?? packed.test, classNames: packed.classNames, dataDir: packed.root, normalization: packed.normalization,
    ...(streamTrain ? { streamed: { root: packed.root, index, leftOut: new Set(problems.map((p) => basename(p.file))), share } } : {}),
    ...(testStream ? { testStream } : {}),
  };
}

/** The packed test split read a window at a time (its shards checked now), choosing the images --limit-test and --classes say. */
async function openTestStream(dir: string, index: PackedIndex, share: DataMemoryShare, flags: ImageFolderFlags): Promise<TestStream> {
  try {
    return await TestStream.open({
      root: dir, index, windowImages: share.testWindowImages!, skipBadShards: flags.skipBadShards, onProgress: consoleCountProgress('Checking packed test shards'),
      ...(flags.limitTest ? { limit: flags.limitTest } : {}),
      ...(flags.classes ? { classes: parseClasses(flags.classes, index.classNames) } : {}),
    });
  } catch (e) {
    if (e instanceof RangeError) throw new UsageError(e.message);
    throw e;
  }
}

/**
 * The --data folder: a packed dataset (read whole), or an image folder decoded at --resolution (or read from the image cache), split by --val-split
 * when it has no train/ and test/. Says where the pixels came from and what was skipped.
 */
export async function loadImageFolderData(flags: ImageFolderFlags): Promise<TrainingData> {
  if (isPackedDataset(userPath(flags.folder))) return await loadPackedData(flags);
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
export function selectData<T extends Cifar10 & { testStream?: TestStream }>(data: T, flags: { classes: string | null; limitTrain?: number | null; limitTest?: number | null }): T {
  try {
    // A streamed test split chose its images when it was opened; its window is not a set to choose from.
    const limitTest = data.testStream ? undefined : (flags.limitTest ?? undefined);
    return { ...data, ...selectSubsets(data, { classes: flags.classes ?? undefined, limitTrain: flags.limitTrain ?? undefined, limitTest }), ...(data.testStream ? { test: data.test } : {}) };
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
