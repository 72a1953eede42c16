import { availableParallelism } from 'os';
import * as path from 'path';
import { DatasetError } from './datasetError';
import { MAX_RESOLUTION } from './decodeImage';
import { decodeImages, type BadImage } from './decodeImages';
import { cacheFilePath, imageFolderCacheKey, readImageCache, writeImageCache } from './imageFolderCache';
import { readImageFolderLayout, type ImageFolderLayoutOptions } from './imageFolderLayout';
import { isImageChannels, type ImageChannels } from './imageChannels';
import type { ImageSet } from './imageSet';
import { computeChannelStats, type Normalization } from './normalization';
import { consoleCountProgress, type CountProgressHandler } from './progress';
import { defaultCacheRoot } from './resolveDataDir';

export interface LoadImageFolderOptions extends ImageFolderLayoutOptions {
  /** Square side R every image is resized and centre-cropped to (default 32). */
  resolution?: number;
  /** 3 (RGB, default) or 1 (grey, PIL's `convert('L')` luma; see decodeImage): the channels every image is decoded to. */
  channels?: ImageChannels;
  /** Leave out (and count) files that are not usable images instead of failing. */
  skipBadImages?: boolean;
  /** Decodes in flight at once (default: the number of cores). */
  concurrency?: number;
  /** Folder of the decoded-image cache (default $XDG_CACHE_HOME/convoy/image-folders or ~/.cache/convoy/image-folders); null: no cache. */
  cacheDir?: string | null;
  /** Environment for the default cache folder (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Decoding progress (default: a bar on a terminal, lines every 10% otherwise, on stderr). */
  onProgress?: CountProgressHandler;
}

export interface ImageFolder {
  train: ImageSet;
  test: ImageSet;
  /** Folder names, in label order (sorted). */
  classNames: string[];
  /** Per-channel mean and std of the training images (one entry per channel: a grey folder has its own grey statistics). */
  normalization: Normalization;
  resolution: number;
  channels: ImageChannels;
  root: string;
  /** Files left out by skipBadImages (paths relative to root). */
  skipped: BadImage[];
  /** 'hit': read from the cache; 'written': decoded and cached; 'off': decoded, no cache. */
  cache: 'hit' | 'written' | 'off';
  /** The cache file used or written (null when off). */
  cacheFile: string | null;
}

/** Files listed in full in a bad-images error; the rest are counted. */
const LISTED_BAD_FILES = 10;

/**
 * Loads an ImageFolder dataset (see readImageFolderLayout) as two ImageSets of C x R x R images (C = `channels`: 3, or 1 for grey),
 * both views of ONE SharedArrayBuffer (training images first, then test images): one copy of the
 * pixels for every worker thread. Decoded in parallel with a progress display, or read from the
 * on-disk cache when the folder's files, R and C are unchanged. Bad files fail the load with one
 * DatasetError (BAD_IMAGES) listing them, unless skipBadImages leaves them out (counted in
 * `skipped`). Normalisation: the training images' per-channel statistics.
 */
export async function loadImageFolder(root: string, options: LoadImageFolderOptions = {}): Promise<ImageFolder> {
  const resolution = options.resolution ?? 32;
  if (!Number.isInteger(resolution) || resolution < 8 || resolution > MAX_RESOLUTION) {
    throw new RangeError(`--resolution must be an integer of 8 to ${MAX_RESOLUTION} (the random crop pads by R/8), got ${resolution}`);
  }
  const channels = options.channels ?? 3;
  if (!isImageChannels(channels)) throw new RangeError(`channels must be 1 (grey) or 3 (RGB), got ${String(channels)}`);
  const layout = readImageFolderLayout(root, options);
  const { entries, order, trainCount, classNames } = layout;
  const files = entries.map((e) => e.file);
  const bytes = channels * resolution * resolution;
  // slotOf[i]: where entry i lives in memory (train part first, then test, as layout.order says).
  const slotOf = new Int32Array(entries.length);
  order.forEach((entry, position) => (slotOf[entry] = position));
  const slot = (i: number) => slotOf[i];
  const pixels = new Uint8Array(new SharedArrayBuffer(entries.length * bytes));

  const cacheDir = options.cacheDir === null ? null : path.resolve(options.cacheDir ?? path.join(defaultCacheRoot(options.env ?? process.env), 'convoy', 'image-folders'));
  const cacheFile = cacheDir ? cacheFilePath(cacheDir, imageFolderCacheKey(layout.root, entries, resolution, channels)) : null;
  let bad: BadImage[];
  let cache: ImageFolder['cache'] = 'off';
  const cached = cacheFile ? readImageCache(cacheFile, files, { resolution, channels }, pixels, slot) : null;
  if (cached) {
    bad = cached.bad;
    cache = 'hit';
  } else {
    bad = await decodeImages(layout.root, files, resolution, pixels, slot, {
      channels,
      concurrency: options.concurrency ?? availableParallelism(),
      onProgress: options.onProgress ?? consoleCountProgress(`Decoding ${files.length.toLocaleString('en-US')} images at ${resolution}x${resolution}${channels === 1 ? ', grey' : ''}`),
    });
    if (cacheFile) {
      try {
        writeImageCache(cacheFile, { resolution, channels, count: files.length, files, bad }, pixels, slot);
        cache = 'written';
      } catch (error) {
        // A cache is an optimisation: a full disk or read-only cache folder must not stop training.
        process.stderr.write(`Could not write the image cache ${cacheFile} (${(error as Error).message}); going on without it, the next run decodes again.\n`);
      }
    }
  }
  if (bad.length > 0 && !options.skipBadImages) throw badImagesError(layout.root, bad, files.length);

  // Keep the good images, in memory order, packed at the front of the one buffer.
  const isBad = new Uint8Array(entries.length);
  for (const b of bad) isBad[b.index] = 1;
  const labels = new Uint8Array(new SharedArrayBuffer(entries.length));
  let kept = 0;
  let keptTrain = 0;
  order.forEach((entry, position) => {
    if (isBad[entry]) return;
    if (kept !== position) pixels.copyWithin(kept * bytes, position * bytes, (position + 1) * bytes);
    labels[kept] = entries[entry].label;
    kept++;
    if (position < trainCount) keptTrain = kept;
  });
  const view = (from: number, to: number): ImageSet => ({
    images: pixels.subarray(from * bytes, to * bytes),
    labels: labels.subarray(from, to),
    count: to - from,
    channels,
    height: resolution,
    width: resolution,
  });
  const train = view(0, keptTrain);
  const test = view(keptTrain, kept);
  checkEveryClassKept(train, classNames, layout.root, 'training');
  if (test.count === 0) throw new DatasetError('BAD_IMAGES', `${layout.root}: every test image was a bad file and was skipped; there is nothing to evaluate on. Fix: replace the bad test images.`);
  return { train, test, classNames: [...classNames], normalization: computeChannelStats(train), resolution, channels, root: layout.root, skipped: options.skipBadImages ? bad : [], cache, cacheFile };
}

function checkEveryClassKept(set: ImageSet, classNames: readonly string[], root: string, what: string): void {
  const counts = new Array<number>(classNames.length).fill(0);
  for (let i = 0; i < set.count; i++) counts[set.labels[i]]++;
  const empty = classNames.filter((_, c) => counts[c] === 0);
  if (empty.length > 0) {
    throw new DatasetError(
      'BAD_IMAGES',
      `${root}: after skipping bad files, class${empty.length > 1 ? 'es' : ''} ${empty.join(', ')} ${empty.length > 1 ? 'have' : 'has'} no ${what} images left. Fix: replace the bad images of ${empty.length > 1 ? 'those classes' : 'that class'}.`,
    );
  }
}

function badImagesError(root: string, bad: readonly BadImage[], total: number): DatasetError {
  const listed = bad.slice(0, LISTED_BAD_FILES).map((b) => `  ${path.join(root, b.file)}: ${b.reason}`);
  const more = bad.length > LISTED_BAD_FILES ? [`  ... and ${bad.length - LISTED_BAD_FILES} more`] : [];
  return new DatasetError(
    'BAD_IMAGES',
    [
      `${bad.length} of ${total.toLocaleString('en-US')} files under ${root} cannot be used as images:`,
      ...listed,
      ...more,
      'Fix: replace or delete those files, or pass --skip-bad-images to train without them (they are counted and reported).',
    ].join('\n'),
  );
}
