import { Option, type Command } from 'commander';
import { DEFAULT_DATA_MEMORY, isImageChannels, type ImageSet, type TestStream } from '@convoy/data';
import { modelInputOf, TTA_MODES, type TtaMode } from '@convoy/nn';
import { DEFAULT_RUN_CONFIG, type CheckpointState, type RunConfig } from '@convoy/run';
import { loadCheckpoint } from '../checkpoint';
import {
  addComputeOptions, addDataOptions, addImageFolderOptions, addTestSubsetOptions, type ComputeOptions, type DataOptions, type ImageFolderOptions,
  type JsonOptions, type TestSubsetOptions,
} from '../cliOptions';
import { userPath } from '../config';
import { UsageError } from '../usageError';
import { choiceFlag, sizeFlag } from '../flagParsers';
import { evaluateParameters } from '../evaluation';
import { cifar10ClassesOf, dataMemoryProblem, loadData, loadImageFolderData, packedInput, selectData } from './data';

export type EvalOptions = DataOptions & ImageFolderOptions & ComputeOptions & TestSubsetOptions & JsonOptions & { tta: TtaMode; dataMemory: number };

/**
 * The test images of a checkpoint: CIFAR-10's test set (its classes), or with --data the test part
 * of an image folder, read as the run read it (the checkpoint's resolution and input channels; its
 * config's --val-split and seed for a folder without test/), whose classes must be the checkpoint's.
 * A packed test split bigger than --data-memory comes as a stream (`test` is its window).
 */
async function testImagesOf(state: CheckpointState, path: string, opts: EvalOptions): Promise<{ test: ImageSet; testStream?: TestStream }> {
  const { channels } = modelInputOf(state.modelSpec);
  if (!opts.data) {
    if (channels !== 3) throw new UsageError(`${path} is a model of ${channels}-channel images; CIFAR-10 is RGB, so evaluate it on its own images with --data <folder>`);
    const data = await loadData(opts);
    return { test: selectData(data, { classes: cifar10ClassesOf(state, path, data.classNames), limitTest: opts.limitTest }).test };
  }
  if (opts.dataDir) throw new UsageError('--data (an image folder) and --data-dir (the CIFAR-10 folder) exclude each other; pass one');
  if (!isImageChannels(channels)) throw new UsageError(`${path} is a model of ${channels}-channel images; images decode to 1 (grey) or 3 (RGB) channels only`);
  const packed = packedInput(opts.data);
  if (packed && (packed.resolution !== state.resolution || packed.channels !== channels)) {
    throw new UsageError(
      `${opts.data} was packed at ${packed.resolution}x${packed.resolution} with ${packed.channels} channel(s); ${path} is a model of ${channels}-channel ${state.resolution}x${state.resolution} images. ` +
        `Pack the test images again with --resolution ${state.resolution} --channels ${channels}`,
    );
  }
  const config = state.config as Partial<RunConfig>;
  const folder = await loadImageFolderData({
    folder: opts.data,
    resolution: state.resolution,
    channels,
    valSplit: config.valSplit ?? null,
    seed: config.seed ?? DEFAULT_RUN_CONFIG.seed,
    skipBadImages: opts.skipBadImages === true,
    skipBadShards: opts.skipBadShards === true,
    splits: ['test'],
    dataMemory: opts.dataMemory,
    limitTest: opts.limitTest ?? null,
    imageCache: opts.imageCache !== false,
    threads: opts.threads,
    log: (line) => process.stderr.write(`${line}\n`),
  });
  if (folder.classNames.join('\n') !== state.classNames.join('\n')) {
    throw new UsageError(`${opts.data} has the classes ${folder.classNames.join(', ')}; ${path} was trained on ${state.classNames.join(', ')}, in that order`);
  }
  const selected = selectData(folder, { classes: null, limitTest: opts.limitTest });
  return { test: selected.test, ...(selected.testStream ? { testStream: selected.testStream } : {}) };
}

async function evaluate(checkpoint: string, opts: EvalOptions, cmd: Command): Promise<void> {
  const unusedMemory = dataMemoryProblem(cmd.getOptionValueSource('dataMemory') === 'cli', opts.data);
  if (unusedMemory) throw new UsageError(unusedMemory);
  const { path, state } = loadCheckpoint(userPath(checkpoint));
  const { test, testStream } = await testImagesOf(state, path, opts);
  const result = await evaluateParameters({
    params: state.params, buffers: state.buffers.data, modelSpec: state.modelSpec, normalization: state.normalization, test, testStream, threads: opts.threads, backend: opts.backend, tta: opts.tta,
  });
  const tta = result.tta;
  const line = {
    checkpoint: path, step: state.step, epoch: state.epoch, images: result.count, testLoss: result.loss, testAccuracy: result.accuracy,
    ...(tta ? { tta: tta.mode, ttaTestLoss: tta.loss, ttaTestAccuracy: tta.accuracy } : {}), backend: result.backend,
  };
  if (opts.json) process.stdout.write(`${JSON.stringify(line)}\n`);
  else {
    const withTta = tta ? `; with test-time augmentation (${tta.mode}) ${(100 * tta.accuracy).toFixed(2)}% (${tta.correct}/${result.count}), loss ${tta.loss.toFixed(4)}` : '';
    process.stdout.write(
      `${path} (step ${state.step}, epoch ${state.epoch}): test accuracy ${(100 * result.accuracy).toFixed(2)}% (${result.correct}/${result.count}), loss ${result.loss.toFixed(4)}${withTta} [${result.backend}]\n`,
    );
  }
}

/** `convoy eval <checkpoint>`: test accuracy and loss of a checkpoint. */
export function addEvalCommand(program: Command): void {
  const cmd = program
    .command('eval')
    .description("evaluate a checkpoint on the CIFAR-10 test set, or with --data on an image folder's test images")
    .argument('<checkpoint>', 'checkpoint file, or a directory holding latest.msgpack');
  addDataOptions(cmd);
  addImageFolderOptions(cmd);
  addComputeOptions(cmd, 'worker threads');
  addTestSubsetOptions(cmd);
  cmd.addOption(
    new Option(
      '--data-memory <size>',
      'with a packed --data folder (a usage error otherwise): the most of its test split held in memory (e.g. 512M, 4G); a bigger one is read and evaluated a window at a time (an eighth of this), with the same result (docs/DISTRIBUTED.md "Memory")',
    ).argParser(sizeFlag('--data-memory', 64 * 1024)).default(DEFAULT_DATA_MEMORY, '1G'),
  );
  cmd.addOption(
    new Option('--tta <mode>', `test-time augmentation, reported beside the plain accuracy: ${TTA_MODES.join(' | ')} (flip: logits averaged over the image and its mirror; flip-translate: also over both shifted one pixel up-left and down-right, weighted as airbench94)`)
      .argParser(choiceFlag('--tta', TTA_MODES))
      .default('none'),
  );
  cmd.option('--json', 'print one JSON line instead of text (with --tta: also tta, ttaTestLoss, ttaTestAccuracy)').action(async (checkpoint: string, opts: EvalOptions, command: Command) => evaluate(checkpoint, opts, command));
}
