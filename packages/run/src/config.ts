import { CIFAR10_CLASS_NAMES, DEFAULT_DATA_MEMORY, parseClasses, type AugmentationKind } from '@convoy/data';
import type { OptimizerSpec, RecipeModelSpec } from '@convoy/nn';

export const OPTIMIZERS = ['sgd', 'adamw'] as const;
export const SCHEDULES = ['onecycle', 'cosine', 'linear', 'step', 'constant'] as const;
export type OptimizerName = (typeof OPTIMIZERS)[number];
export type ScheduleName = (typeof SCHEDULES)[number];

/**
 * Everything that decides the numbers a run produces. Stored in every checkpoint; a resumed run
 * must use the same values (so `--resume` continues exactly).
 */
export interface RunConfig {
  epochs: number;
  /** Global batch (split over the threads). */
  batchSize: number;
  /** Peak learning rate (one-cycle's max_lr; the constant / initial lr of the other schedules). */
  lr: number;
  momentum: number;
  nesterov: boolean;
  weightDecay: number;
  /**
   * The BatchNorm parameters' learning rate as a multiple of the schedule's (airbench steps its
   * BatchNorm biases at 64 times the lr). 1 with a null batchNormWeightDecay: they step as every other parameter.
   */
  batchNormLrScale: number;
  /** The BatchNorm parameters' weight decay; null: weightDecay. */
  batchNormWeightDecay: number | null;
  optimizer: OptimizerName;
  beta1: number;
  beta2: number;
  eps: number;
  schedule: ScheduleName;
  /** onecycle with SGD: cycle momentum between momentum -/+ 0.05 as PyTorch's OneCycleLR (0.85..0.95 for 0.9). */
  cycleMomentum: boolean;
  /** Fraction of the run spent warming up (onecycle's pct_start; cosine's linear warm-up). */
  warmup: number;
  /** step schedule: multiply the lr by `gamma` every `stepEpochs` epochs. */
  stepEpochs: number;
  gamma: number;
  width: number;
  augment: boolean;
  /**
   * Which training augmentation `augment` turns on (@convoy/data's AUGMENTATIONS): 'crop-flip', or
   * airbench94's 'alternating-flip-translate'. A checkpoint written before it existed means 'crop-flip'.
   */
  augmentation: AugmentationKind;
  /**
   * Label smoothing eps in [0, 1) of the training loss (torch.nn.CrossEntropyLoss's label_smoothing);
   * test loss and accuracy are always measured without it. A checkpoint written before it existed means 0.
   */
  labelSmoothing: number;
  /**
   * Lookahead (airbench94's): every `lookahead` optimizer steps the network is averaged into a slow
   * copy and restarts from it, with a decay ramping up over the run (nn's lookaheadSchedule); the
   * run ends on the averaged network. 0: off. A checkpoint written before it existed means 0.
   */
  lookahead: number;
  /**
   * A whitening first layer's bias trains for this many epochs only, then stays (airbench94: 3);
   * null: it always trains. A checkpoint written before it existed means null.
   */
  whiteningBiasEpochs: number | null;
  seed: number;
  /** Train on a class-balanced subset of this many images (null: all). */
  limitTrain: number | null;
  /**
   * Train and evaluate on these classes only, as typed (`cat,dog` or `3,5`), relabelled 0..k-1 in
   * the order given; null: all ten. Kept as typed so a checkpoint says what the user asked for.
   */
  classes: string | null;
  /** Side R of the square input: --data images are resized (smaller side to R) and centre-cropped to R x R; CIFAR-10 is 32. */
  resolution: number;
  /** --data without train/ and test/: the per-class fraction held out for testing (seeded by `seed`); null otherwise. */
  valSplit: number | null;
  /**
   * Bytes of a packed training split one process may hold (`--data-memory`): a split that fits is
   * held whole and shuffled whole; a bigger one is streamed from its shards in another order
   * (docs/DISTRIBUTED.md, "Streaming a packed dataset"), whose shuffle buffers this sizes.
   */
  dataMemory: number;
}

/** The recipe of docs/ARCHITECTURE.md ("The recipe network"): PyTorch reached 79.45% test accuracy with it in 15 epochs. */
export const DEFAULT_RUN_CONFIG: RunConfig = {
  epochs: 15,
  batchSize: 128,
  lr: 0.05,
  momentum: 0.9,
  nesterov: true,
  weightDecay: 5e-4,
  batchNormLrScale: 1,
  batchNormWeightDecay: null,
  optimizer: 'sgd',
  beta1: 0.9,
  beta2: 0.999,
  eps: 1e-8,
  schedule: 'onecycle',
  cycleMomentum: true,
  warmup: 0.3,
  stepEpochs: 5,
  gamma: 0.1,
  width: 32,
  augment: true,
  augmentation: 'crop-flip',
  labelSmoothing: 0,
  lookahead: 0,
  whiteningBiasEpochs: null,
  seed: 1,
  limitTrain: null,
  classes: null,
  resolution: 32,
  valSplit: null,
  dataMemory: DEFAULT_DATA_MEMORY,
};

/** Keys of RunConfig in a stable order (for comparing a resumed run with its checkpoint). */
export const RUN_CONFIG_KEYS = Object.keys(DEFAULT_RUN_CONFIG) as Array<keyof RunConfig>;

/** Number of classes the network predicts: those of `--classes`, else all ten of CIFAR-10. */
export function classCountOf(config: Partial<Pick<RunConfig, 'classes'>>): number {
  return config.classes ? config.classes.split(',').filter((part) => part.trim().length > 0).length : 10;
}

/** CIFAR-10's class names in the run's label order: all ten, or those `--classes` picks, in its order. */
export function cifar10ClassNamesFor(config: Partial<Pick<RunConfig, 'classes'>>): string[] {
  return config.classes ? parseClasses(config.classes, CIFAR10_CLASS_NAMES).map((label) => CIFAR10_CLASS_NAMES[label]) : [...CIFAR10_CLASS_NAMES];
}

/** The recipe network of a run: `classCount` outputs (default: CIFAR-10's ten, or those of --classes) at the run's resolution. */
export function modelSpecFor(config: Pick<RunConfig, 'width'> & Partial<Pick<RunConfig, 'classes' | 'resolution'>>, classCount = classCountOf(config)): RecipeModelSpec {
  return { kind: 'recipe', resolution: config.resolution ?? 32, classes: classCount, width: config.width };
}

/**
 * The optimizer of a run. `stepsPerEpoch` is needed when the whitening bias trains for some epochs
 * only (--whitening-bias-epochs), which the optimizer counts in steps.
 */
export function optimizerSpecFor(config: RunConfig, stepsPerEpoch: number | null = null): OptimizerSpec {
  const spec: OptimizerSpec = config.optimizer === 'sgd'
    ? { name: 'sgd', momentum: config.momentum, nesterov: config.nesterov, weightDecay: config.weightDecay }
    : { name: 'adamw', beta1: config.beta1, beta2: config.beta2, eps: config.eps, weightDecay: config.weightDecay };
  // A checkpoint written before the BatchNorm group existed lacks both fields: its parameters step alike.
  const lrScale = config.batchNormLrScale ?? 1;
  const weightDecay = config.batchNormWeightDecay ?? null;
  const grouped: OptimizerSpec = lrScale === 1 && weightDecay === null ? spec : { ...spec, batchNorm: { lrScale, weightDecay: weightDecay ?? config.weightDecay } };
  const biasEpochs = config.whiteningBiasEpochs ?? null;
  if (biasEpochs === null) return grouped;
  if (stepsPerEpoch === null) throw new RangeError('optimizerSpecFor: --whitening-bias-epochs needs the run\'s steps per epoch');
  return { ...grouped, whiteningBiasSteps: biasEpochs * stepsPerEpoch };
}

/** Cross-field checks commander cannot do per flag. Returns the problems, empty when fine. */
export function configProblems(config: RunConfig): string[] {
  const problems: string[] = [];
  if (config.optimizer === 'sgd' && config.nesterov && config.momentum <= 0) {
    problems.push('--nesterov needs --momentum > 0 (or pass --no-nesterov)');
  }
  if (config.schedule === 'onecycle' && config.cycleMomentum && config.optimizer === 'sgd' && (config.momentum < 0.05 || config.momentum > 0.95)) {
    problems.push('--schedule onecycle cycles momentum between momentum-0.05 and momentum+0.05; use --momentum in [0.05, 0.95] or --no-cycle-momentum');
  }
  if (!(config.batchNormLrScale > 0 && Number.isFinite(config.batchNormLrScale))) problems.push(`--batch-norm-lr-scale must be a finite number > 0, got ${config.batchNormLrScale}`);
  if (config.batchNormWeightDecay !== null && !(config.batchNormWeightDecay >= 0 && Number.isFinite(config.batchNormWeightDecay))) {
    problems.push(`--batch-norm-weight-decay must be a finite number >= 0, got ${config.batchNormWeightDecay}`);
  }
  if (!(config.labelSmoothing >= 0 && config.labelSmoothing < 1)) problems.push(`--label-smoothing must be in [0, 1), got ${config.labelSmoothing}`);
  if (config.warmup >= 1 && (config.schedule === 'cosine' || config.schedule === 'linear')) problems.push(`--warmup must be below 1 for the ${config.schedule} schedule`);
  return problems;
}
