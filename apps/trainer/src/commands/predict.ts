import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import { Command, Option } from 'commander';
import { allocateImageSet, decodeImageFile, ImageFileError, isImageChannels } from '@convoy/data';
import { modelInputOf } from '@convoy/nn';
import { createGradientPool } from '@convoy/worker';
import type { CheckpointState } from '@convoy/run';
import { loadCheckpoint } from '../checkpoint';
import { addComputeOptions, type ComputeOptions, type JsonOptions } from '../cliOptions';
import { userPath } from '../config';
import { integerFlag } from '../flagParsers';
import { UsageError } from '../usageError';
import type { CommandContext } from './context';

export interface PredictFlags {
  topK: number;
  /** Images decoded and classified per round (bounds memory: batch x C x R x R bytes). */
  batchSize: number;
}

export type PredictOptions = ComputeOptions & JsonOptions & PredictFlags;

/** File name endings of images inside a folder (a file named on the command line is tried whatever its name). */
export const IMAGE_EXTENSIONS: readonly string[] = ['.jpg', '.jpeg', '.png', '.webp'];

/** The most pixel bytes one round of predict holds (the shared ImageSet the threads read). */
export const MAX_ROUND_BYTES = 512 * 1024 * 1024;

/** One classified image: its top-k classes, most probable first. */
export interface Prediction {
  file: string;
  top: Array<{ className: string; probability: number }>;
}

/** The image files of the inputs, in order: a file as given, a folder's images (recursively, sorted by path). */
export function imageFiles(inputs: readonly string[]): string[] {
  const files: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      const path = join(dir, entry.name);
      // Symbolic links are followed (folders of links into a dataset are common).
      const kind = entry.isSymbolicLink() ? statSync(path, { throwIfNoEntry: false }) : entry;
      if (kind?.isDirectory()) walk(path);
      else if (kind?.isFile() && IMAGE_EXTENSIONS.includes(extname(entry.name).toLowerCase())) files.push(path);
    }
  };
  for (const input of inputs) {
    if (!existsSync(input)) throw new UsageError(`${input}: no such file or folder`);
    if (statSync(input).isDirectory()) {
      const before = files.length;
      walk(input);
      if (files.length === before) throw new UsageError(`${input}: the folder holds no images (${IMAGE_EXTENSIONS.join(', ')})`);
    } else {
      files.push(input);
    }
  }
  return files;
}

/** The k most probable classes of one row of logits (softmax in float64). */
export function topClasses(logits: Float32Array, classNames: readonly string[], k: number): Prediction['top'] {
  let max = -Infinity;
  for (const v of logits) max = Math.max(max, v);
  const exp = Array.from(logits, (v) => Math.exp(v - max));
  const sum = exp.reduce((a, b) => a + b, 0);
  return exp
    .map((e, i) => ({ className: classNames[i], probability: e / sum, index: i }))
    .sort((a, b) => b.probability - a.probability || a.index - b.index)
    .slice(0, k)
    .map(({ className, probability }) => ({ className, probability }));
}

/**
 * Classifies image files with a checkpoint's network: each file decoded and preprocessed as in
 * training (smaller side to R, centre crop, to the network's input channels: a colour image given to
 * a grey network is made grey as a grey training run decodes its folder; the checkpoint's
 * normalisation), in batches whose
 * forward passes are split over the worker threads. Calls `onPrediction` in file order and
 * `onError` for files that cannot be decoded (the others are still classified).
 */
export async function predictFiles(options: {
  state: CheckpointState;
  files: readonly string[];
  threads: number;
  backend: string;
  batchSize: number;
  topK: number;
  onPrediction: (p: Prediction) => void;
  onError: (file: string, error: Error) => void;
  onBatch?: (done: number, total: number) => void;
}): Promise<void> {
  const { state, files } = options;
  const r = state.resolution;
  const { channels } = modelInputOf(state.modelSpec);
  if (!isImageChannels(channels)) throw new UsageError(`the checkpoint's network takes ${channels}-channel images; predict decodes images to 1 (grey) or 3 (RGB) channels`);
  const imageBytes = channels * r * r;
  // A round's pixels stay under MAX_ROUND_BYTES whatever --batch-size says (256 images of 3 x 4096 x 4096 would be 12 GiB).
  const perRound = Math.max(1, Math.min(options.batchSize, files.length, Math.floor(MAX_ROUND_BYTES / imageBytes)));
  const set = allocateImageSet(perRound, { channels, height: r, width: r });
  const pool = await createGradientPool({
    threads: options.threads,
    modelSpec: state.modelSpec,
    backend: options.backend,
    normalization: state.normalization,
    train: set,
    test: set,
    maxBatch: 1,
    params: state.params,
    buffers: state.buffers.data,
  });
  const classes = state.classNames.length;
  try {
    for (let first = 0; first < files.length; first += set.count) {
      const batch = files.slice(first, first + set.count);
      // Decode into consecutive slots of the shared set; a file that fails leaves no gap.
      const decoded: string[] = [];
      const results = await Promise.allSettled(batch.map((file) => decodeImageFile(file, r, { channels })));
      results.forEach((result, i) => {
        if (result.status === 'rejected') {
          options.onError(batch[i], result.reason instanceof Error ? result.reason : new Error(String(result.reason)));
          return;
        }
        set.images.set(result.value, decoded.length * imageBytes);
        decoded.push(batch[i]);
      });
      if (decoded.length > 0) {
        const logits = await pool.logits('test', 0, decoded.length);
        decoded.forEach((file, i) => options.onPrediction({ file, top: topClasses(logits.subarray(i * classes, (i + 1) * classes), state.classNames, options.topK) }));
      }
      options.onBatch?.(first + batch.length, files.length);
    }
  } finally {
    await pool.close();
  }
}

async function predict(inputs: string[], opts: PredictOptions, context: CommandContext): Promise<void> {
  const { path, state } = loadCheckpoint(userPath(inputs[0]));
  const files = imageFiles(inputs.slice(1).map((input) => userPath(input)));
  const k = Math.min(opts.topK, state.classNames.length);
  let failed = 0;
  let labelled = 0;
  let correct = 0;
  let rounds = 0;
  const summary = (line: string) => (opts.json ? process.stderr : process.stdout).write(`${line}\n`);
  await predictFiles({
    state, files, threads: opts.threads, backend: opts.backend, batchSize: opts.batchSize, topK: k,
    onPrediction: (p) => {
      // A file inside a folder named after a class (test/cat/1.png) counts towards the accuracy line.
      const label = basename(dirname(p.file));
      if (state.classNames.includes(label)) {
        labelled++;
        if (p.top[0].className === label) correct++;
      }
      if (opts.json) process.stdout.write(`${JSON.stringify({ file: p.file, top: p.top })}\n`);
      else process.stdout.write(`${p.file}: ${p.top.map((t) => `${t.className} ${(100 * t.probability).toFixed(1)}%`).join(', ')}\n`);
    },
    onError: (file, error) => {
      failed++;
      // The decoder's own fix suggests training flags; here the file is simply skipped.
      process.stderr.write(`error: ${file}: ${error instanceof ImageFileError ? error.reason : error.message}; skipped\n`);
    },
    onBatch: (done, total) => {
      rounds++;
      if (done < total || rounds > 1) process.stderr.write(`predict: ${done}/${total} images\n`); // progress only when there are several rounds
    },
  });
  if (labelled > 0) {
    summary(`accuracy ${(100 * correct / labelled).toFixed(2)}% (${correct}/${labelled}) on the images inside folders named after a class of ${path}`);
  }
  if (failed > 0) {
    summary(`${failed} of ${files.length} file(s) could not be read as images`);
    context.onExitCode(1);
  }
}

/** `convoy predict <checkpoint> <image|folder>...`: classifies images. */
export function addPredictCommand(program: Command, context: CommandContext): void {
  const cmd = program
    .command('predict')
    .description("classify images with a checkpoint: its network, class names and preprocessing (resize, centre crop, normalisation); top-k with probabilities")
    .argument('<checkpoint>', 'checkpoint file, or a directory holding latest.msgpack')
    .argument('<images...>', `image files (JPEG, PNG, WebP) and folders (their ${IMAGE_EXTENSIONS.join(' ')} files, recursively)`)
    .addOption(new Option('--top-k <k>', 'classes shown per image, most probable first').argParser(integerFlag('--top-k', 1)).default(3));
  addComputeOptions(cmd, 'worker threads the forward passes are split over');
  cmd
    .option('--batch-size <n>', 'images decoded and classified per round (memory: n x C x R x R bytes for C input channels, at most 512 MiB: fewer images per round at large R)', integerFlag('--batch-size', 1, 65536), 256)
    .option('--json', 'one JSON line per image: {"file","top":[{"className","probability"},...]} (summary lines go to stderr)')
    .action(async (checkpoint: string, images: string[], opts: PredictOptions) => predict([checkpoint, ...images], opts, context));
}
