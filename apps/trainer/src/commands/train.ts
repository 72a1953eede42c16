import { existsSync, mkdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { Command, Option } from 'commander';
import {
  CheckpointError, classCountOf, configProblems, DEFAULT_RUN_CONFIG, describeCollapse, LATEST_CHECKPOINT, modelSpecFor, OPTIMIZERS, RUN_CONFIG_KEYS, SCHEDULES, type CheckpointState, type RunConfig,
} from '@convoy/run';
import { loadCheckpoint } from '../checkpoint';
import { collapseAdvice } from '../collapseWarning';
import { defaultModelSpec, IMAGE_FOLDER_MODEL } from '../defaultModel';
import {
  addComputeOptions, addDataOptions, addImageFolderOptions, addTestSubsetOptions, type ComputeOptions, type DataOptions, type ImageFolderOptions, type TestSubsetOptions,
} from '../cliOptions';
import { userPath, type ExecutionConfig } from '../config';
import { choiceFlag, integerFlag, numberFlag, sizeFlag } from '../flagParsers';
import { createProgress, NoProgress } from '../progress';
import { runTraining, type StreamedTraining } from '../training';
import type { Cluster } from '@convoy/cluster';
import { UsageError } from '../usageError';
import type { CommandContext } from './context';
import { affinityWarning, readCpuAffinity } from '../cpuAffinity';
import { abortJob, joinCluster, launcherKind, shareCheckpoint, stopOnLauncherSignals } from './distributed';
import { dataMemoryProblem, loadData, loadImageFolderData, packedInput, selectData, type StreamedSplit, type TrainingData } from './data';
import { chooseInputChannels } from '../inputChannels';
import { declaredInput, modelSpecForData, readModelChoice } from '../modelChoice';
import { buildModel, ghostGroupSize, modelInputOf, TTA_MODES, type ModelSpec, type TtaMode } from '@convoy/nn';
import { AUGMENTATIONS, CIFAR10_SHAPE, partitionsOfRank, planStream, splitBytes, StreamPlanError, trainSplitBytes } from '@convoy/data';

/**
 * The flags that decide a run's numbers, as parsed: RunConfig's fields, except that the optional
 * ones are absent rather than null, and `augment` is undefined unless --augment or --no-augment
 * was given (both are declared; augmentation is on by default).
 */
export type RunOptions = Omit<RunConfig, 'augment' | 'classes' | 'limitTrain' | 'valSplit' | 'batchNormWeightDecay' | 'whiteningBiasEpochs'> & {
  augment?: boolean; classes?: string; limitTrain?: number; valSplit?: number; batchNormWeightDecay?: number; whiteningBiasEpochs?: number;
};

/** Where a run's files go and how it starts. */
export interface OutputOptions {
  maxSteps?: number;
  /** Test-time augmentation measured beside the plain numbers after the last epoch. */
  tta: TtaMode;
  ttaEachEpoch?: boolean;
  testEvery: number;
  stepTimeout: number;
  checkpointDir?: string;
  resume?: string;
  overwrite?: boolean;
  log?: string;
}

/** Which network trains: a model file instead of the recipe network; with --data, the channels its images are decoded to. */
export interface ModelOptions {
  model?: string;
  channels?: number;
}

export type TrainOptions = DataOptions & ImageFolderOptions & ComputeOptions & TestSubsetOptions & RunOptions & OutputOptions & ModelOptions;

function addRunOptions(cmd: Command): Command {
  const d = DEFAULT_RUN_CONFIG;
  return cmd
    .option('--epochs <n>', 'epochs to train', integerFlag('--epochs', 1), d.epochs)
    .option('--batch-size <n>', 'global batch size, split over the threads', integerFlag('--batch-size', 1), d.batchSize)
    .option('--lr <number>', 'peak learning rate (one-cycle max_lr; the start lr of step/cosine/constant)', numberFlag('--lr', { min: 0, minExclusive: true }), d.lr)
    .option('--momentum <number>', 'SGD momentum (onecycle cycles it between momentum-0.05 and momentum+0.05, as PyTorch)', numberFlag('--momentum', { min: 0, max: 0.999 }), d.momentum)
    .option('--no-nesterov', 'plain (heavy-ball) momentum instead of Nesterov')
    .option('--weight-decay <number>', 'weight decay (SGD: L2 added to the gradient; AdamW: decoupled)', numberFlag('--weight-decay', { min: 0 }), d.weightDecay)
    .option('--batch-norm-lr-scale <x>', 'the BatchNorm parameters\' learning rate as a multiple of the schedule\'s (their own parameter group, as airbench\'s 64 for its BatchNorm biases)', numberFlag('--batch-norm-lr-scale', { min: 0, minExclusive: true }), d.batchNormLrScale)
    .option('--batch-norm-weight-decay <number>', 'the BatchNorm parameters\' weight decay (default: --weight-decay)', numberFlag('--batch-norm-weight-decay', { min: 0 }))
    .addOption(new Option('--optimizer <name>', `optimizer: ${OPTIMIZERS.join(' | ')}`).argParser(choiceFlag('--optimizer', OPTIMIZERS)).default(d.optimizer))
    .option('--beta1 <number>', 'AdamW beta1', numberFlag('--beta1', { min: 0, max: 0.999999 }), d.beta1)
    .option('--beta2 <number>', 'AdamW beta2', numberFlag('--beta2', { min: 0, max: 0.999999 }), d.beta2)
    .option('--eps <number>', 'AdamW epsilon', numberFlag('--eps', { min: 0, minExclusive: true }), d.eps)
    .addOption(new Option('--schedule <name>', `learning-rate schedule: ${SCHEDULES.join(' | ')}`).argParser(choiceFlag('--schedule', SCHEDULES)).default(d.schedule))
    .option('--warmup <fraction>', 'fraction of the run spent warming up (onecycle pct_start; cosine linear warm-up; linear: airbench94 rises from 0.2 x lr to lr, then straight down to 0.07 x lr at the end)', numberFlag('--warmup', { min: 0, max: 1 }), d.warmup)
    .option('--no-cycle-momentum', 'keep momentum fixed under --schedule onecycle')
    .option('--step-epochs <n>', 'step schedule: epochs between lr drops', integerFlag('--step-epochs', 1), d.stepEpochs)
    .option('--gamma <number>', 'step schedule: lr factor at each drop', numberFlag('--gamma', { min: 0, minExclusive: true, max: 1 }), d.gamma)
    .option('--model <file|preset>', 'train the network of a model file (JSON: input and layers, docs/ARCHITECTURE.md "The model file"; it must take the data\'s channels and side, "out": "classes" is the data\'s class count) or of a preset, recipe | recipe-bn (built for --resolution, --width and --channels); default: recipe on CIFAR-10, recipe-bn (BatchNorm after every conv) on --data')
    .option('--channels <n>', 'with --data: decode the images to 1 (grey: PIL\'s convert("L") luma) or 3 (RGB) channels; default: the --model file\'s input.channels, a packed folder\'s, else 3 (a grey image repeated into R, G, B); the default network and the recipe presets are built for it', (value: string) => Number(choiceFlag('--channels', ['1', '3'])(value)))
    .option('--width <n>', 'feature maps of the first block of the recipe and recipe-bn networks (doubling per block, at most 512)', integerFlag('--width', 1, 512), d.width)
    .option('--resolution <R>', 'with --data: resize each image so its smaller side is R, then centre-crop R x R (the 7x7 stride-2 front end is used from R = 100; with --model the file\'s input side is the default); CIFAR-10 is 32', integerFlag('--resolution', 8, 4096), d.resolution)
    .option('--val-split <fraction>', 'with --data <folder>/<class>/*: hold out this fraction of each class for testing (seeded by --seed), e.g. 0.1', numberFlag('--val-split', { min: 0, minExclusive: true, max: 0.99 }))
    .option('--augment', 'random crop (padding R/8: 4 pixels at 32) + horizontal flip, keyed by (seed, epoch, sample) (default: on)')
    .option('--no-augment', 'train without augmentation')
    .addOption(
      new Option(
        '--augmentation <kind>',
        `which augmentation --augment applies: ${AUGMENTATIONS.join(' | ')} (crop-flip: the random crop + flip above; alternating-flip-translate: airbench94's, each image mirrored or not once per run ` +
          'and all of them mirrored every odd epoch, then shifted by up to 2 pixels on each axis with the border reflected, keyed by (seed, epoch, sample))',
      )
        .argParser(choiceFlag('--augmentation', AUGMENTATIONS))
        .default(d.augmentation),
    )
    .option('--label-smoothing <eps>', 'label smoothing of the training loss, in [0, 1): the target is 1 - eps on the label plus eps / classes on every class, as PyTorch\'s CrossEntropyLoss(label_smoothing); test loss and accuracy are measured without it', numberFlag('--label-smoothing', { min: 0, max: 1, maxExclusive: true }), d.labelSmoothing)
    .option('--lookahead <k>', 'Lookahead, as airbench94 (which uses 5): every k steps the network is averaged into a slow copy (decay 0.95^k x (step/total)^3) and restarts from it; the run ends on the averaged network, which is what it evaluates and saves; 0: off', integerFlag('--lookahead', 0), d.lookahead)
    .option('--whitening-bias-epochs <n>', 'with a whitening first layer ("init": "whitening"): train its bias for the first n epochs only, then keep it (no step, no weight decay, no momentum), as airbench94 (n = 3); default: always', integerFlag('--whitening-bias-epochs', 0))
    .option('--seed <n>', 'seed of initialisation, shuffling and augmentation', integerFlag('--seed', 0, 2 ** 31 - 1), d.seed)
    .option('--classes <list>', 'train and evaluate on these classes only, relabelled 0..k-1 in the order given: names or indices, e.g. cat,dog or 3,5 (default: all ten)')
    .option('--limit-train <n>', 'train on a class-balanced subset of n images (default: all 50,000); on a packed training split streamed within --data-memory, on its first n images in the index\'s shard order (packed shuffled, so the classes are mixed, but not balanced)', integerFlag('--limit-train', 1))
    .addOption(
      new Option(
        '--data-memory <size>',
        'with a packed --data folder (a usage error otherwise): the most of it one process holds (e.g. 512M, 4G). The test split is counted first: held whole when it fits a quarter of this (or both splits fit), else evaluated ' +
          'a window at a time (an eighth of this), with the same result. A training split that fits the rest is held whole; a bigger one is streamed from its shards ' +
          'through shuffle buffers that fill it, each MPI rank reading only its own shards (docs/DISTRIBUTED.md "Streaming a packed dataset"); it decides the order, so --resume keeps it',
      ).argParser(sizeFlag('--data-memory', 64 * 1024)).default(d.dataMemory, '1G'),
    );
}

function addOutputOptions(cmd: Command): Command {
  return cmd
    .option('--max-steps <n>', 'stop after n optimizer steps in total (saving a checkpoint; --resume continues; the schedule still spans --epochs)', integerFlag('--max-steps', 1))
    .addOption(
      new Option(
        '--tta <mode>',
        `test-time augmentation of the test pass after the last epoch, reported beside the plain accuracy (output, metrics log, checkpoint summary): ${TTA_MODES.join(' | ')} ` +
          '(flip: logits averaged over the image and its mirror; flip-translate: also over both shifted one pixel up-left and down-right, weighted as airbench94; as `convoy eval --tta`)',
      )
        .argParser(choiceFlag('--tta', TTA_MODES))
        .default('none'),
    )
    .option('--tta-each-epoch', 'measure --tta after every epoch, not only the last (flip doubles each test pass, flip-translate makes it 6 forward passes)')
    .option(
      '--test-every <n>',
      'evaluate the test set after every n-th epoch and after the last (a test pass takes time the training does not need; skipped epochs log no test numbers; the trained parameters are the same for any n)',
      integerFlag('--test-every', 1),
      1,
    )
    .option('--checkpoint-dir <dir>', 'where checkpoints go (latest.msgpack + epoch-NNN.msgpack; default runs/cifar10, or runs/<folder name> with --data)')
    .option('--resume <checkpoint>', 'continue a run exactly from a checkpoint file, or from latest.msgpack in a directory')
    .option('--overwrite', 'start a new run even if --checkpoint-dir already holds one')
    .option('--log <file>', 'JSONL metrics log, appended (default: <checkpoint-dir>/metrics.jsonl)')
    .option(
      '--step-timeout <seconds>',
      'under mpirun/srun: how long a rank waits for the others in one step before the whole job stops with a message (a rank that stopped answering); start-up, while ranks load their data, waits without limit',
      integerFlag('--step-timeout', 1),
      300,
    );
}

export function runConfigFrom(opts: RunOptions): RunConfig {
  return {
    epochs: opts.epochs,
    batchSize: opts.batchSize,
    lr: opts.lr,
    momentum: opts.momentum,
    nesterov: opts.nesterov,
    weightDecay: opts.weightDecay,
    batchNormLrScale: opts.batchNormLrScale,
    batchNormWeightDecay: opts.batchNormWeightDecay ?? null,
    optimizer: opts.optimizer,
    beta1: opts.beta1,
    beta2: opts.beta2,
    eps: opts.eps,
    schedule: opts.schedule,
    cycleMomentum: opts.cycleMomentum,
    warmup: opts.warmup,
    stepEpochs: opts.stepEpochs,
    gamma: opts.gamma,
    width: opts.width,
    augment: opts.augment !== false,
    augmentation: opts.augmentation,
    labelSmoothing: opts.labelSmoothing,
    lookahead: opts.lookahead,
    whiteningBiasEpochs: opts.whiteningBiasEpochs ?? null,
    seed: opts.seed,
    limitTrain: opts.limitTrain ?? null,
    classes: opts.classes ?? null,
    resolution: opts.resolution,
    valSplit: opts.valSplit ?? null,
    dataMemory: opts.dataMemory,
  };
}

/** Flag name of a RunConfig key, for messages. */
function flagOf(key: keyof RunConfig): string {
  if (key === 'cycleMomentum') return '--[no-]cycle-momentum';
  if (key === 'nesterov') return '--[no-]nesterov';
  if (key === 'augment') return '--[no-]augment';
  return `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/** The run a `--resume` continues: its checkpoint, its settings, its directory. Flags that would change the run are a usage error. */
function resumedRun(loaded: { path: string; state: CheckpointState }, cmd: Command, config: RunConfig): { resume: CheckpointState; config: RunConfig; path: string } {
  const saved = { ...DEFAULT_RUN_CONFIG, ...(loaded.state.config as Partial<RunConfig>) };
  const conflicts = RUN_CONFIG_KEYS.filter((key) => cmd.getOptionValueSource(key) === 'cli' && saved[key] !== config[key]).map(
    (key) => `${flagOf(key)} ${String(config[key])} (the checkpoint has ${String(saved[key])})`,
  );
  if (conflicts.length > 0) {
    throw new UsageError(
      `--resume continues the run exactly, so these flags must match the checkpoint ${loaded.path}: ${conflicts.join('; ')}. ` +
        "Drop them (the checkpoint's values are used), or start a new run without --resume.",
    );
  }
  const spec = modelSpecFor(saved, loaded.state.classNames.length);
  if (loaded.state.modelSpec.kind === 'recipe' && JSON.stringify(spec) !== JSON.stringify(loaded.state.modelSpec)) {
    throw new CheckpointError(`${loaded.path}: its modelSpec ${JSON.stringify(loaded.state.modelSpec)} is not the network its config describes (${JSON.stringify(spec)}); it cannot be resumed`);
  }
  if (loaded.state.epoch >= saved.epochs) {
    throw new UsageError(`checkpoint ${loaded.path} is from a finished run (${loaded.state.epoch} of ${saved.epochs} epochs); nothing to resume. Use \`convoy eval ${loaded.path}\`.`);
  }
  return { resume: loaded.state, config: saved, path: loaded.path };
}

/**
 * Ctrl-C (SIGINT), and SIGTERM/SIGHUP (what `nx` sends its task when you press Ctrl-C there):
 * abort the controller, so training finishes the current step, saves a checkpoint and exits 130.
 * Under nx one Ctrl-C arrives twice (the terminal's SIGINT, then nx's SIGTERM), so only a later,
 * separate Ctrl-C quits at once. Returns the function that removes the handlers.
 */
function stopOnSignals(controller: AbortController): () => void {
  let firstSignalAt = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    const now = Date.now();
    if (firstSignalAt > 0) {
      if (signal === 'SIGINT' && now - firstSignalAt > 500) {
        process.stderr.write('\nsecond Ctrl-C: exiting without a checkpoint\n');
        process.exit(130);
      }
      return;
    }
    firstSignalAt = now;
    process.stderr.write(`\n${signal === 'SIGINT' ? 'Ctrl-C' : signal}: finishing this step and saving a checkpoint (Ctrl-C again to quit at once)\n`);
    controller.abort();
  };
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const signal of signals) process.on(signal, onSignal);
  return () => {
    for (const signal of signals) process.off(signal, onSignal);
  };
}

async function train(opts: TrainOptions, cmd: Command): Promise<number> {
  const affinity = readCpuAffinity();
  const warning = affinityWarning(affinity, opts.threads, launcherKind());
  if (warning) process.stderr.write(`${warning}\n`);
  const cluster = joinCluster({ stepTimeout: opts.stepTimeout, threads: opts.threads, affinity });
  if (!cluster) return trainOn(null, opts, cmd);
  let step = 'start-up';
  const stop = new AbortController();
  const removeSignalHandlers = stopOnLauncherSignals(cluster, () => step, stop);
  try {
    const code = await trainOn(cluster, opts, cmd, (s) => (step = s), stop);
    await cluster.finalize();
    return code;
  } catch (err) {
    return abortJob(cluster, err);
  } finally {
    removeSignalHandlers();
  }
}

/** One process's part of `convoy train`: all of it on a single host, or one rank's under MPI (rank 0 alone writes files and reports). */
async function trainOn(cluster: Cluster | null, opts: TrainOptions, cmd: Command, onStep?: (where: string) => void, launcherStop?: AbortController): Promise<number> {
  const startedAt = performance.now();
  const lead = !cluster || cluster.rank === 0;
  let config = runConfigFrom(opts);
  const flagChannels = cmd.getOptionValueSource('channels') === 'cli' && opts.channels !== undefined ? opts.channels : null;
  const packed = opts.data ? packedInput(opts.data) : null;
  const unusedMemory = dataMemoryProblem(cmd.getOptionValueSource('dataMemory') === 'cli', opts.data);
  if (unusedMemory) throw new UsageError(unusedMemory);
  // A preset is built for the channels the run will decode (--channels, else a packed folder's); a resumed run's network is checked against it below.
  const presetChannels = flagChannels ?? packed?.channels ?? 3;
  const modelChoice = opts.model ? readModelChoice(opts.model, { resolution: config.resolution, width: config.width, inChannels: presetChannels }) : null;
  if (modelChoice) {
    if (!modelChoice.preset && cmd.getOptionValueSource('width') === 'cli') {
      throw new UsageError('--width sets the recipe network\'s width (and the recipe presets\'); a model file gives every layer\'s size. Drop one of them.');
    }
    // An image folder is decoded to the file's input side unless --resolution says otherwise.
    const side = declaredInput(modelChoice, 'resolution');
    if (opts.data && cmd.getOptionValueSource('resolution') !== 'cli' && side !== null) config = { ...config, resolution: side };
    // CIFAR-10's shape and class count are known now: a file that does not fit fails before the data loads.
    if (!opts.data) modelSpecForData(modelChoice, { classes: classCountOf(config), channels: CIFAR10_SHAPE.channels, resolution: CIFAR10_SHAPE.height, name: 'CIFAR-10' });
  }
  let checkpointDir = userPath(opts.checkpointDir ?? defaultCheckpointDir(opts.data));
  let resume: CheckpointState | undefined;
  if (opts.resume) {
    const resumePath = opts.resume;
    const read = () => loadCheckpoint(userPath(resumePath));
    const resumed = resumedRun(cluster ? await shareCheckpoint(cluster, read) : read(), cmd, config);
    resume = resumed.resume;
    config = resumed.config;
    if (cmd.getOptionValueSource('checkpointDir') !== 'cli') checkpointDir = dirname(resumed.path);
  } else if (lead && existsSync(join(checkpointDir, LATEST_CHECKPOINT)) && !opts.overwrite) {
    throw new UsageError(
      `${checkpointDir} already holds a run (${LATEST_CHECKPOINT}). Continue it with --resume ${checkpointDir}, ` +
        'or pass --checkpoint-dir <new dir>, or --overwrite to start over there.',
    );
  }
  if (packed) config = packedConfig(config, packed.resolution, opts, cmd);
  const modelChannels = modelChoice ? declaredInput(modelChoice, 'channels') : null;
  const channels = opts.data
    ? chooseInputChannels({
        flag: flagChannels,
        model: modelChannels === null || !modelChoice ? null : { name: modelChoice.name, channels: modelChannels },
        resume: resume && opts.resume ? { path: opts.resume, channels: modelInputOf(resume.modelSpec).channels } : null,
        packed: packed ? { folder: opts.data, channels: packed.channels } : null,
      })
    : 3;
  const problems = [...configProblems(config), ...imageFolderProblems(opts, config)];
  if (problems.length > 0) throw new UsageError(problems.join('; '));
  const execution: ExecutionConfig = {
    threads: opts.threads,
    backend: opts.backend,
    dataDir: opts.dataDir ?? null,
    download: opts.download !== false,
    limitTest: opts.limitTest ?? null,
    maxSteps: opts.maxSteps ?? null,
    checkpointDir,
    log: opts.log ? userPath(opts.log) : join(checkpointDir, 'metrics.jsonl'),
    tta: opts.tta,
    ttaEachEpoch: opts.ttaEachEpoch === true,
    testEvery: opts.testEvery,
  };
  const reporter = lead ? createProgress(config.batchSize) : new NoProgress();
  const data: TrainingData = opts.data
    ? await loadImageFolderData({
        folder: opts.data,
        resolution: config.resolution,
        channels,
        valSplit: config.valSplit,
        seed: config.seed,
        skipBadImages: opts.skipBadImages === true,
        skipBadShards: opts.skipBadShards === true,
        imageCache: opts.imageCache !== false,
        threads: execution.threads,
        dataMemory: config.dataMemory,
        limitTest: execution.limitTest,
        classes: config.classes,
        log: (line) => reporter.log(line),
      })
    : await loadData(opts);
  if (data.streamed && config.classes !== null) {
    const whole = splitBytes(data.streamed.index, 'train') + splitBytes(data.streamed.index, 'test');
    throw new UsageError(
      `${opts.data}'s training split (${(trainSplitBytes(data.streamed.index) / 1024 ** 2).toFixed(0)} MiB) is bigger than its share of --data-memory, so it is streamed from its shards, and --classes needs it in memory. ` +
        `Either raise --data-memory to ${Math.ceil(whole / 1024 ** 2)}M (both splits held whole), or pack only those classes (\`convoy pack\` of a folder holding just their class folders) and train on that without --classes`,
    );
  }
  const { train: trainSet, test, classNames, normalization } = selectData(data, {
    classes: config.classes, limitTrain: data.streamed ? null : config.limitTrain, limitTest: execution.limitTest, // a streamed split's --limit-train is its stream's prefix
  });
  if (resume && resume.classNames.join(',') !== classNames.join(',')) {
    throw new CheckpointError(`${opts.resume}: its classes (${resume.classNames.join(', ')}) are not those of the data (${classNames.join(', ')}); it cannot be resumed on this data`);
  }
  const dataName = opts.data ? `--data ${opts.data}` : 'CIFAR-10';
  const modelSpec = modelChoice
    ? modelSpecForData(modelChoice, { classes: classNames.length, channels: trainSet.channels, resolution: trainSet.height, name: dataName })
    : resume ? undefined : defaultModelSpec(config, { imageFolder: Boolean(opts.data), classes: classNames.length, channels: trainSet.channels });
  if (resume && modelSpec && JSON.stringify(modelSpec) !== JSON.stringify(resume.modelSpec)) {
    throw new UsageError(`--resume continues ${opts.resume}'s network, which is not the one of --model ${opts.model}; drop --model (the checkpoint's network is used) or start a new run`);
  }
  const dataInput = { channels: trainSet.channels, resolution: trainSet.height };
  const trained = modelInputOf(resume?.modelSpec ?? modelSpec ?? modelSpecFor(config, classNames.length));
  if (trained.channels !== dataInput.channels || trained.resolution !== dataInput.resolution) {
    throw new UsageError(`the network takes ${trained.channels}-channel ${trained.resolution}x${trained.resolution} images; ${dataName} has ${dataInput.channels}-channel ${dataInput.resolution}x${dataInput.resolution} images`);
  }
  const stream = data.streamed ? streamedTraining(data.streamed, config, resume?.modelSpec ?? modelSpec ?? modelSpecFor(config, classNames.length), cluster, opts.skipBadShards === true) : undefined;
  if (lead) mkdirSync(checkpointDir, { recursive: true }); // only once the data loaded and the network fits it: a bad --data or --model leaves no empty run folder

  // Under MPI the launcher's signals are handled by the caller (the ranks vote to stop after the same step).
  const controller = launcherStop ?? new AbortController();
  const removeSignalHandlers = launcherStop ? () => undefined : stopOnSignals(controller);
  try {
    reporter.log(`convoy: data from ${data.dataDir}; checkpoints in ${checkpointDir}; metrics log ${execution.log}`);
    const outcome = await runTraining({ config, execution, train: trainSet, stream, test, testStream: data.testStream ?? null, classNames, normalization, modelSpec, resume, reporter, signal: controller.signal, cluster, onStep });
    const evaluation = outcome.lastEvaluation;
    const accuracy =
      (evaluation ? ` | test accuracy ${(100 * evaluation.accuracy).toFixed(2)}%` : '') +
      (evaluation?.tta ? `, ${(100 * evaluation.tta.accuracy).toFixed(2)}% with TTA ${evaluation.tta.mode}` : '');
    // A run that ended at chance is not reported as a plain success; its exit code stays 0 (see README, "Exit codes").
    const status = outcome.status === 'completed' && outcome.collapse ? 'completed AT CHANCE (collapsed)' : outcome.status;
    reporter.log(
      `${status}: step ${outcome.step}, epoch ${outcome.epoch}/${config.epochs}${accuracy} | ${outcome.trainSeconds.toFixed(1)} s training, ` +
        `${((performance.now() - startedAt) / 1000).toFixed(1)} s wall` +
        (outcome.checkpoint ? ` | checkpoint ${outcome.checkpoint}` : ''),
    );
    if (outcome.status === 'completed' && outcome.collapse) reporter.log(`WARNING: this run collapsed: ${describeCollapse(outcome.collapse)}. ${collapseAdvice(config)}`);
    return outcome.status === 'interrupted' ? 130 : 0;
  } finally {
    removeSignalHandlers();
  }
}

/**
 * A packed --data folder was decoded at one resolution and split when it was packed: the run takes
 * its R (a different --resolution, or a resumed run of another R, is an error) and no --val-split.
 */
function packedConfig(config: RunConfig, packedR: number, opts: TrainOptions, cmd: Command): RunConfig {
  const fix = `pack it again with \`convoy pack <source> --resolution ${config.resolution}\``;
  if (opts.resume && config.resolution !== packedR) {
    throw new UsageError(`${opts.data} was packed at ${packedR}x${packedR}, but the run resumed from ${opts.resume} trains at ${config.resolution}x${config.resolution}; ${fix}`);
  }
  if (!opts.resume && cmd.getOptionValueSource('resolution') === 'cli' && config.resolution !== packedR) {
    throw new UsageError(`${opts.data} was packed at ${packedR}x${packedR}, so --resolution ${config.resolution} cannot apply: drop --resolution, or ${fix}`);
  }
  if (config.valSplit !== null) throw new UsageError(`${opts.data} is packed: its test split was chosen when it was packed (convoy pack --val-split), so --val-split cannot apply here`);
  return { ...config, resolution: packedR };
}

/**
 * How a streamed split is read: the plan (partitions and shuffle buffers within --data-memory, for
 * the network's BatchNorm groups) and this rank's partitions. What cannot run is a usage error
 * saying what to change.
 */
function streamedTraining(split: StreamedSplit, config: RunConfig, spec: ModelSpec, cluster: Cluster | null, skipBadShards: boolean): StreamedTraining {
  try {
    const plan = planStream(split.index, {
      batchSize: config.batchSize, groupSize: ghostGroupSize(buildModel(spec)), memoryBytes: split.share.trainBytes, testBytes: split.share.testBytes, leftOut: split.leftOut,
      ...(config.limitTrain !== null ? { limit: config.limitTrain } : {}),
    });
    return { root: split.root, index: split.index, plan, partitions: partitionsOfRank(plan, cluster?.size ?? 1, cluster?.rank ?? 0), skipBadShards };
  } catch (err) {
    if (err instanceof StreamPlanError) throw new UsageError(err.message);
    throw err;
  }
}

/** Flags that only mean something with --data (or that --data cannot take). */
function imageFolderProblems(opts: TrainOptions, config: RunConfig): string[] {
  if (opts.data) return opts.dataDir ? ['--data (an image folder) and --data-dir (the CIFAR-10 folder) exclude each other; pass one'] : [];
  const problems: string[] = [];
  if (config.resolution !== 32) problems.push(`CIFAR-10 images are 32x32, so --resolution ${config.resolution} needs --data <image folder>`);
  if (config.valSplit !== null) problems.push('--val-split needs --data <folder of class folders> (CIFAR-10 has its own test set)');
  if (opts.skipBadImages) problems.push('--skip-bad-images needs --data <image folder>');
  if (opts.skipBadShards) problems.push('--skip-bad-shards needs --data <packed folder>');
  if (opts.channels !== undefined) problems.push('--channels needs --data <image folder>: CIFAR-10 is read as RGB (for grey CIFAR-10, `convoy pack <CIFAR-10 folder> --resolution 32 --channels 1 -o <dir>`, then --data <dir>)');
  return problems;
}

/** `convoy train`: the recipe network on CIFAR-10 with the default run configuration. */
export function addTrainCommand(program: Command, context: CommandContext): void {
  const cmd = program.command('train').description(
    `train the recipe network (or a model file's, --model) on CIFAR-10, or by default the recipe with BatchNorm after every conv (the ${IMAGE_FOLDER_MODEL} preset of \`convoy model\`) on a folder of images with --data (defaults = the 15-epoch CIFAR-10 run configuration)`,
  );
  addDataOptions(cmd);
  addImageFolderOptions(cmd);
  addComputeOptions(cmd);
  addRunOptions(cmd);
  addTestSubsetOptions(cmd);
  addOutputOptions(cmd);
  cmd.action(async (opts: TrainOptions, command: Command) => context.onExitCode(await train(opts, command)));
}

/** A folder's runs go under its own name, so training a second dataset never lands in (or is refused by) CIFAR-10's run folder. */
export function defaultCheckpointDir(data: string | undefined): string {
  return data ? join('runs', basename(userPath(data))) : join('runs', 'cifar10');
}
