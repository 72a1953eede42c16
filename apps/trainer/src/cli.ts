#!/usr/bin/env node
import { availableParallelism } from 'node:os';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Command, Option } from 'commander';
import { loadCifar10, selectSubsets, type Cifar10 } from '@convoy/data';
import { BACKEND_NAMES } from '@convoy/kernels';
import { syntheticImageSet } from '@convoy/worker';
import { CheckpointError, LATEST_CHECKPOINT, loadCheckpoint } from './checkpoint';
import {
  configProblems, DEFAULT_RUN_CONFIG, OPTIMIZERS, RUN_CONFIG_KEYS, SCHEDULES, userPath, type RunConfig, type RuntimeConfig,
} from './config';
import { choiceFlag, integerFlag, numberFlag } from './flagParsers';
import { learningCurveSvg, readEpochRecords } from './learningCurve';
import { createProgress } from './progress';
import { measureScaling, scalingChartSvg, scalingTable, threadLadder } from './scaling';
import { evaluateParameters, runTraining } from './training';

/** A usage problem found after parsing (conflicting flags, resume mismatch): printed as `error: ...`, exit 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

const CORES = availableParallelism();

function backendFlag(value: string): string {
  if ((BACKEND_NAMES as readonly string[]).includes(value) || /^gpujs:[a-z]+$/.test(value)) return value;
  return choiceFlag('--backend', [...BACKEND_NAMES, 'gpujs:<mode>'])(value);
}

/** Where training images come from for one command. */
async function loadData(opts: { dataDir?: string; download?: boolean }): Promise<Cifar10> {
  const env = { ...process.env };
  if (env.CIFAR10_DIR) env.CIFAR10_DIR = userPath(env.CIFAR10_DIR);
  return loadCifar10({ dataDir: opts.dataDir ? userPath(opts.dataDir) : undefined, env, download: opts.download !== false });
}

/** The data flags (`--classes`, `--limit-train`, `--limit-test`) applied; a bad `--classes` is a usage error. */
function selectData(data: Cifar10, flags: { classes: string | null; limitTrain?: number | null; limitTest?: number | null }): Cifar10 {
  try {
    return selectSubsets(data, { classes: flags.classes ?? undefined, limitTrain: flags.limitTrain ?? undefined, limitTest: flags.limitTest ?? undefined });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

function runConfigFrom(opts: Record<string, unknown>): RunConfig {
  return {
    epochs: opts.epochs as number,
    batchSize: opts.batchSize as number,
    lr: opts.lr as number,
    momentum: opts.momentum as number,
    nesterov: opts.nesterov as boolean,
    weightDecay: opts.weightDecay as number,
    optimizer: opts.optimizer as RunConfig['optimizer'],
    beta1: opts.beta1 as number,
    beta2: opts.beta2 as number,
    eps: opts.eps as number,
    schedule: opts.schedule as RunConfig['schedule'],
    cycleMomentum: opts.cycleMomentum as boolean,
    warmup: opts.warmup as number,
    stepEpochs: opts.stepEpochs as number,
    gamma: opts.gamma as number,
    width: opts.width as number,
    augment: opts.augment !== false,
    seed: opts.seed as number,
    limitTrain: (opts.limitTrain as number | undefined) ?? null,
    classes: (opts.classes as string | undefined) ?? null,
  };
}

/** Flag name of a RunConfig key, for messages. */
function flagOf(key: string): string {
  if (key === 'cycleMomentum') return '--[no-]cycle-momentum';
  if (key === 'nesterov') return '--[no-]nesterov';
  if (key === 'augment') return '--[no-]augment';
  return `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

function addTrainOptions(cmd: Command): Command {
  const d = DEFAULT_RUN_CONFIG;
  return cmd
    .option('--data-dir <dir>', 'CIFAR-10 folder (binary version); default $CIFAR10_DIR, else ~/.cache/convoy/cifar-10 (downloaded there if empty)')
    .option('--no-download', 'never download CIFAR-10; fail if it is not found')
    .addOption(new Option('--threads <n>', 'worker threads (one per core is best)').argParser(integerFlag('--threads', 1, 1024)).default(CORES, `the number of cores, here ${CORES}`))
    .option('--epochs <n>', 'epochs to train', integerFlag('--epochs', 1), d.epochs)
    .option('--batch-size <n>', 'global batch size, split over the threads', integerFlag('--batch-size', 1), d.batchSize)
    .option('--lr <number>', 'peak learning rate (one-cycle max_lr; the start lr of step/cosine/constant)', numberFlag('--lr', { min: 0, minExclusive: true }), d.lr)
    .option('--momentum <number>', 'SGD momentum (onecycle cycles it between momentum-0.05 and momentum+0.05, as PyTorch)', numberFlag('--momentum', { min: 0, max: 0.999 }), d.momentum)
    .option('--no-nesterov', 'plain (heavy-ball) momentum instead of Nesterov')
    .option('--weight-decay <number>', 'weight decay (SGD: L2 added to the gradient; AdamW: decoupled)', numberFlag('--weight-decay', { min: 0 }), d.weightDecay)
    .addOption(new Option('--optimizer <name>', `optimizer: ${OPTIMIZERS.join(' | ')}`).argParser(choiceFlag('--optimizer', OPTIMIZERS)).default(d.optimizer))
    .option('--beta1 <number>', 'AdamW beta1', numberFlag('--beta1', { min: 0, max: 0.999999 }), d.beta1)
    .option('--beta2 <number>', 'AdamW beta2', numberFlag('--beta2', { min: 0, max: 0.999999 }), d.beta2)
    .option('--eps <number>', 'AdamW epsilon', numberFlag('--eps', { min: 0, minExclusive: true }), d.eps)
    .addOption(new Option('--schedule <name>', `learning-rate schedule: ${SCHEDULES.join(' | ')}`).argParser(choiceFlag('--schedule', SCHEDULES)).default(d.schedule))
    .option('--warmup <fraction>', 'fraction of the run spent warming up (onecycle pct_start; cosine linear warm-up)', numberFlag('--warmup', { min: 0, max: 1 }), d.warmup)
    .option('--no-cycle-momentum', 'keep momentum fixed under --schedule onecycle')
    .option('--step-epochs <n>', 'step schedule: epochs between lr drops', integerFlag('--step-epochs', 1), d.stepEpochs)
    .option('--gamma <number>', 'step schedule: lr factor at each drop', numberFlag('--gamma', { min: 0, minExclusive: true, max: 1 }), d.gamma)
    .option('--width <n>', 'feature maps of the first block (doubling per block, at most 512)', integerFlag('--width', 1, 512), d.width)
    .option('--augment', 'random crop (4-pixel padding) + horizontal flip, keyed by (seed, epoch, sample) (default: on)')
    .option('--no-augment', 'train without augmentation')
    .option('--seed <n>', 'seed of initialisation, shuffling and augmentation', integerFlag('--seed', 0, 2 ** 31 - 1), d.seed)
    .addOption(new Option('--backend <name>', `kernel backend: ${BACKEND_NAMES.join(' | ')} | gpujs:<mode>`).argParser(backendFlag).default('auto'))
    .option('--classes <list>', 'train and evaluate on these classes only, relabelled 0..k-1 in the order given: names or indices, e.g. cat,dog or 3,5 (default: all ten)')
    .option('--limit-train <n>', 'train on a class-balanced subset of n images (default: all 50,000)', integerFlag('--limit-train', 1))
    .option('--limit-test <n>', 'evaluate on a class-balanced subset of n test images (default: all 10,000)', integerFlag('--limit-test', 1))
    .option('--max-steps <n>', 'stop after n optimizer steps in total (saving a checkpoint; --resume continues; the schedule still spans --epochs)', integerFlag('--max-steps', 1))
    .option('--checkpoint-dir <dir>', 'where checkpoints go (latest.msgpack + epoch-NNN.msgpack)', 'runs/cifar10')
    .option('--resume <checkpoint>', 'continue a run exactly from a checkpoint file, or from latest.msgpack in a directory')
    .option('--overwrite', 'start a new run even if --checkpoint-dir already holds one')
    .option('--log <file>', 'JSONL metrics log, appended (default: <checkpoint-dir>/metrics.jsonl)');
}

interface TrainCommandResult {
  exitCode: number;
}

async function trainCommand(opts: Record<string, unknown>, cmd: Command): Promise<TrainCommandResult> {
  let config = runConfigFrom(opts);
  let checkpointDir = userPath(opts.checkpointDir as string);
  let resume;
  if (opts.resume) {
    const loaded = loadCheckpoint(userPath(opts.resume as string));
    resume = loaded.state;
    const saved = { ...DEFAULT_RUN_CONFIG, ...(resume.config as Partial<RunConfig>) };
    const conflicts = RUN_CONFIG_KEYS.filter((key) => cmd.getOptionValueSource(key) === 'cli' && saved[key] !== config[key]).map(
      (key) => `${flagOf(key)} ${String(config[key])} (the checkpoint has ${String(saved[key])})`,
    );
    if (conflicts.length > 0) {
      throw new UsageError(
        `--resume continues the run exactly, so these flags must match the checkpoint ${loaded.path}: ${conflicts.join('; ')}. ` +
          'Drop them (the checkpoint\'s values are used), or start a new run without --resume.',
      );
    }
    config = saved;
    if (cmd.getOptionValueSource('checkpointDir') !== 'cli') checkpointDir = dirname(loaded.path);
    if (resume.epoch >= config.epochs) {
      throw new UsageError(`checkpoint ${loaded.path} is from a finished run (${resume.epoch} of ${config.epochs} epochs); nothing to resume. Use \`convoy eval ${loaded.path}\`.`);
    }
  } else if (existsSync(join(checkpointDir, LATEST_CHECKPOINT)) && !opts.overwrite) {
    throw new UsageError(
      `${checkpointDir} already holds a run (${LATEST_CHECKPOINT}). Continue it with --resume ${checkpointDir}, ` +
        'or pass --checkpoint-dir <new dir>, or --overwrite to start over there.',
    );
  }
  const problems = configProblems(config);
  if (problems.length > 0) throw new UsageError(problems.join('; '));
  const runtime: RuntimeConfig = {
    threads: opts.threads as number,
    backend: opts.backend as string,
    dataDir: (opts.dataDir as string | undefined) ?? null,
    download: opts.download !== false,
    limitTest: (opts.limitTest as number | undefined) ?? null,
    maxSteps: (opts.maxSteps as number | undefined) ?? null,
    checkpointDir,
    log: opts.log ? userPath(opts.log as string) : join(checkpointDir, 'metrics.jsonl'),
  };
  mkdirSync(checkpointDir, { recursive: true });
  const data = await loadData({ dataDir: runtime.dataDir ?? undefined, download: runtime.download });
  const { train, test } = selectData(data, { classes: config.classes, limitTrain: config.limitTrain, limitTest: runtime.limitTest });

  // Ctrl-C (SIGINT), and SIGTERM/SIGHUP (what `nx` sends its task when you press Ctrl-C there):
  // finish the current step, save a checkpoint, exit 130. Under nx one Ctrl-C arrives twice (the
  // terminal's SIGINT, then nx's SIGTERM), so only a later, separate Ctrl-C quits at once.
  const controller = new AbortController();
  let firstSignalAt = 0;
  const onSigint = (signal: NodeJS.Signals) => {
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
  for (const signal of signals) process.on(signal, onSigint);
  try {
    const reporter = createProgress(config.batchSize);
    reporter.log(`convoy: data from ${data.dataDir}; checkpoints in ${checkpointDir}; metrics log ${runtime.log}`);
    const outcome = await runTraining({ config, runtime, train, test, resume, reporter, signal: controller.signal });
    const accuracy = outcome.lastEvaluation ? ` | test accuracy ${(100 * outcome.lastEvaluation.accuracy).toFixed(2)}%` : '';
    reporter.log(
      `${outcome.status}: step ${outcome.step}, epoch ${outcome.epoch}/${config.epochs}${accuracy} | ${outcome.trainSeconds.toFixed(1)} s training` +
        (outcome.checkpoint ? ` | checkpoint ${outcome.checkpoint}` : ''),
    );
    return { exitCode: outcome.status === 'interrupted' ? 130 : 0 };
  } finally {
    for (const signal of signals) process.off(signal, onSigint);
  }
}

async function evalCommand(checkpoint: string, opts: Record<string, unknown>): Promise<void> {
  const { path, state } = loadCheckpoint(userPath(checkpoint));
  const width = (state.config as Partial<RunConfig>).width ?? DEFAULT_RUN_CONFIG.width;
  const data = await loadData({ dataDir: opts.dataDir as string | undefined, download: opts.download !== false });
  const classes = (state.config as Partial<RunConfig>).classes ?? null;
  const { test } = selectData(data, { classes, limitTest: opts.limitTest as number | undefined });
  const result = await evaluateParameters({ params: state.params, width, classes, test, threads: opts.threads as number, backend: opts.backend as string });
  const line = { checkpoint: path, step: state.step, epoch: state.epoch, images: result.count, testLoss: result.loss, testAccuracy: result.accuracy, backend: result.backend };
  if (opts.json) process.stdout.write(`${JSON.stringify(line)}\n`);
  else process.stdout.write(`${path} (step ${state.step}, epoch ${state.epoch}): test accuracy ${(100 * result.accuracy).toFixed(2)}% (${result.correct}/${result.count}), loss ${result.loss.toFixed(4)} [${result.backend}]\n`);
}

async function scalingCommand(opts: Record<string, unknown>): Promise<void> {
  const maxThreads = opts.maxThreads as number;
  const train = opts.synthetic
    ? syntheticImageSet({ count: Math.max(2048, (opts.batchSize as number) * 4), seed: opts.seed as number })
    : (await loadData({ dataDir: opts.dataDir as string | undefined, download: opts.download !== false })).train;
  const say = (line: string) => (opts.json ? process.stderr : process.stdout).write(`${line}\n`);
  say(`scaling: ${opts.rounds} round(s) of ${opts.steps} timed steps (+${opts.warmupSteps} warm-up) of batch ${opts.batchSize}, width ${opts.width}, threads ${threadLadder(maxThreads).join(', ')} on ${CORES} cores`);
  const results = await measureScaling({
    threadCounts: threadLadder(maxThreads),
    batchSize: opts.batchSize as number,
    width: opts.width as number,
    backend: opts.backend as string,
    steps: opts.steps as number,
    warmupSteps: opts.warmupSteps as number,
    rounds: opts.rounds as number,
    train,
    seed: opts.seed as number,
    augment: opts.augment !== false,
    onResult: (r) => say(`  ${r.threads} thread(s): ${r.imagesPerSecond.toFixed(1)} images/s (${r.backend})`),
  });
  say(scalingTable(results));
  const svgPath = userPath(opts.svg as string);
  mkdirSync(dirname(svgPath), { recursive: true });
  writeFileSync(svgPath, scalingChartSvg(results, `convoy scaling: batch ${opts.batchSize}, width ${opts.width}, ${CORES} cores`));
  say(`chart: ${svgPath}`);
  if (opts.json) {
    process.stdout.write(
      `${JSON.stringify({
        results: results.map((r) => ({ threads: r.threads, imagesPerSecond: r.imagesPerSecond, speedup: r.speedup, efficiency: r.efficiency, allReduceShare: r.allReduceShare, stepSeconds: r.stepSeconds })),
        allReduceShare: Math.max(...results.map((r) => r.allReduceShare)),
        batchSize: opts.batchSize,
        width: opts.width,
        steps: opts.steps,
        rounds: opts.rounds,
        backend: results[0]?.backend,
        cores: CORES,
        chart: svgPath,
      })}\n`,
    );
  }
}

export interface ProgramOptions {
  /** Receives the exit code a finished command wants (default: sets process.exitCode). */
  onExitCode?: (code: number) => void;
  /** Throw CommanderError instead of exiting on usage errors and --help (for tests and embedding). */
  exitOverride?: boolean;
  writeOut?: (text: string) => void;
  writeErr?: (text: string) => void;
}

/** The `convoy` program with its commands train (default), eval and scaling. */
export function createProgram(options: ProgramOptions = {}): Command {
  const onExitCode = options.onExitCode ?? ((code: number) => (process.exitCode = code));
  const program = new Command('convoy')
    .description('Data-parallel training of a convolutional network on CIFAR-10 over worker threads')
    .showHelpAfterError('(run with --help for usage)');
  // Set before adding commands: subcommands copy these settings when they are created.
  if (options.exitOverride) program.exitOverride();
  if (options.writeOut || options.writeErr) {
    program.configureOutput({
      ...(options.writeOut ? { writeOut: options.writeOut } : {}),
      ...(options.writeErr ? { writeErr: options.writeErr } : {}),
    });
  }

  addTrainOptions(
    program.command('train', { isDefault: true }).description('train the recipe network on CIFAR-10 (the default command; defaults = the 15-epoch recipe)'),
  ).action(async (opts: Record<string, unknown>, cmd: Command) => {
    const { exitCode } = await trainCommand(opts, cmd);
    onExitCode(exitCode);
  });

  program
    .command('eval')
    .description('evaluate a checkpoint on the CIFAR-10 test set')
    .argument('<checkpoint>', 'checkpoint file, or a directory holding latest.msgpack')
    .option('--data-dir <dir>', 'CIFAR-10 folder; default $CIFAR10_DIR, else ~/.cache/convoy/cifar-10')
    .option('--no-download', 'never download CIFAR-10')
    .addOption(new Option('--threads <n>', 'worker threads').argParser(integerFlag('--threads', 1, 1024)).default(CORES, `the number of cores, here ${CORES}`))
    .addOption(new Option('--backend <name>', `kernel backend: ${BACKEND_NAMES.join(' | ')} | gpujs:<mode>`).argParser(backendFlag).default('auto'))
    .option('--limit-test <n>', 'evaluate on a class-balanced subset of n test images', integerFlag('--limit-test', 1))
    .option('--json', 'print one JSON line instead of text')
    .action(async (checkpoint: string, opts: Record<string, unknown>) => evalCommand(checkpoint, opts));

  program
    .command('scaling')
    .description('images/s, speed-up and efficiency of the training step at 1, 2, 4 ... threads; table, SVG chart, --json')
    .addOption(
      new Option('--max-threads <n>', 'largest thread count (measured: powers of two below it, and it)')
        .argParser(integerFlag('--max-threads', 1, 1024))
        .default(CORES, `the number of cores, here ${CORES}`),
    )
    .option('--steps <n>', 'timed steps per thread count and round', integerFlag('--steps', 1), 5)
    .option('--warmup-steps <n>', 'untimed steps first (threads build their model, JIT warms up)', integerFlag('--warmup-steps', 0), 2)
    .option('--rounds <n>', 'interleaved rounds over the thread counts; each figure is the median round (evens out background load)', integerFlag('--rounds', 1), 3)
    .option('--batch-size <n>', 'global batch size', integerFlag('--batch-size', 1), DEFAULT_RUN_CONFIG.batchSize)
    .option('--width <n>', 'feature maps of the first block', integerFlag('--width', 1, 512), DEFAULT_RUN_CONFIG.width)
    .addOption(new Option('--backend <name>', `kernel backend: ${BACKEND_NAMES.join(' | ')} | gpujs:<mode>`).argParser(backendFlag).default('auto'))
    .option('--no-augment', 'measure without crop + flip')
    .option('--seed <n>', 'seed of the initial parameters', integerFlag('--seed', 0, 2 ** 31 - 1), DEFAULT_RUN_CONFIG.seed)
    .option('--data-dir <dir>', 'CIFAR-10 folder; default $CIFAR10_DIR, else ~/.cache/convoy/cifar-10')
    .option('--no-download', 'never download CIFAR-10')
    .option('--synthetic', 'use generated images instead of CIFAR-10 (same shapes, same speed)')
    .option('--svg <file>', 'where to write the chart', 'runs/scaling.svg')
    .option('--json', 'print one JSON line {"results":[{"threads","imagesPerSecond","speedup","efficiency",...}],...} on stdout (table on stderr)')
    .action(async (opts: Record<string, unknown>) => scalingCommand(opts));

  program
    .command('curve')
    .description('learning-curve chart (SVG) and a Markdown table from a metrics log')
    .argument('<log>', 'the JSONL metrics log of a run (e.g. runs/cifar10/metrics.jsonl)')
    .option('--svg <file>', 'where to write the chart', 'runs/learning-curve.svg')
    .action((log: string, opts: Record<string, unknown>) => {
      const points = readEpochRecords(userPath(log));
      if (points.length === 0) throw new UsageError(`${log} has no epoch records yet`);
      const svgPath = userPath(opts.svg as string);
      mkdirSync(dirname(svgPath), { recursive: true });
      writeFileSync(svgPath, learningCurveSvg(points));
      process.stdout.write('| epoch | train loss | train acc | test loss | test acc |\n| ---: | ---: | ---: | ---: | ---: |\n');
      for (const p of points) {
        process.stdout.write(
          `| ${p.epoch} | ${p.trainLoss.toFixed(4)} | ${(100 * p.trainAccuracy).toFixed(2)}% | ${p.testLoss.toFixed(4)} | ${(100 * p.testAccuracy).toFixed(2)}% |\n`,
        );
      }
      process.stdout.write(`chart: ${svgPath}\n`);
    });

  return program;
}

/** Runs the CLI; errors become one `error: ...` line on stderr and a non-zero exit code. */
export async function main(argv: string[] = process.argv): Promise<void> {
  try {
    await createProgram().parseAsync(argv);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`error: ${message}\n`);
    process.exitCode = err instanceof UsageError ? 2 : 1;
    if (!(err instanceof UsageError || err instanceof CheckpointError) && process.env.CONVOY_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
  }
}

if (require.main === module) void main();
