import type { RunConfig } from './config';

/**
 * Collapse: a run whose network has learned nothing a constant guess does not know. Its training
 * loss sits at the loss of the best constant prediction (ln k for k balanced classes: 2.3026 for
 * ten, 0.6931 for two), or its test accuracy at the share of the commonest test class (1/k when
 * balanced). An unnormalised network at a short schedule's peak learning rate ends there, and a
 * run that does must say so (docs/ARCHITECTURE.md, "@convoy/run").
 */

/** The numbers of a network that predicts the label distribution and nothing else. */
export interface ChanceLevel {
  /** Cross-entropy of the best constant prediction on the training labels (their entropy, in nats). */
  loss: number;
  /** Test accuracy of always answering the commonest test class. */
  accuracy: number;
}

/**
 * How close to the chance loss an epoch's mean training loss may be and still count as "at chance":
 * 1% of it (2.280 for ten balanced classes, 0.686 for two). A network that learns is well below
 * this after warm-up; one that collapsed sits at the chance loss or above it.
 */
export const CHANCE_LOSS_TOLERANCE = 0.01;

/**
 * Standard errors of a binomial proportion by which a test accuracy must beat chance to count as
 * learning: 3 leaves a run that truly is at chance flagged with probability ~0.9987.
 */
export const CHANCE_ACCURACY_SIGMAS = 3;

/** Chance level from the labels: the entropy of the training labels and the largest share of the test labels (1/classes without a test set). */
export function chanceLevel(trainLabels: ArrayLike<number>, testLabels: ArrayLike<number> | null, classes: number): ChanceLevel {
  if (!Number.isInteger(classes) || classes < 1) throw new RangeError(`chanceLevel: classes must be a positive integer, got ${classes}`);
  const shares = (labels: ArrayLike<number>): number[] => {
    const counts = new Array<number>(classes).fill(0);
    for (let i = 0; i < labels.length; i++) {
      const label = labels[i];
      if (!Number.isInteger(label) || label < 0 || label >= classes) throw new RangeError(`chanceLevel: label ${label} at ${i} is not in 0..${classes - 1}`);
      counts[label]++;
    }
    return counts.map((c) => c / Math.max(1, labels.length));
  };
  const loss = shares(trainLabels).reduce((sum, p) => (p > 0 ? sum - p * Math.log(p) : sum), 0);
  const accuracy = testLabels && testLabels.length > 0 ? Math.max(...shares(testLabels)) : 1 / classes;
  return { loss, accuracy };
}

/** The upper edge of "at chance" for a test accuracy measured on `count` images: chance plus three standard errors. */
export function chanceAccuracyBound(chance: ChanceLevel, count: number): number {
  const p = chance.accuracy;
  return p + CHANCE_ACCURACY_SIGMAS * Math.sqrt((p * (1 - p)) / Math.max(1, count));
}

/** Epochs of warm-up in a run's schedule: the warm-up fraction of the run for onecycle and cosine, none for step and constant. */
export function warmupEpochs(config: Pick<RunConfig, 'schedule' | 'warmup' | 'epochs'>): number {
  return config.schedule === 'onecycle' || config.schedule === 'cosine' || config.schedule === 'linear' ? config.warmup * config.epochs : 0;
}

/** What an epoch showed: its mean training loss and, when the test set was evaluated, its accuracy. */
export interface EpochSignals {
  /** 1-based number of the epoch just finished. */
  epoch: number;
  epochs: number;
  /** Epochs of warm-up (warmupEpochs): before its end a loss at chance is still expected. */
  warmupEpochs: number;
  trainLoss: number;
  test: { accuracy: number; count: number } | null;
}

/** A collapse found in one epoch: which signals are at chance, with the numbers a message needs. */
export interface Collapse {
  epoch: number;
  /** The epoch's training loss is within CHANCE_LOSS_TOLERANCE of the chance loss, or above it, and the test accuracy (if any) is not above chance. */
  lossAtChance: boolean;
  /** In the run's last epoch: the test accuracy is within CHANCE_ACCURACY_SIGMAS standard errors of chance (or below). */
  accuracyAtChance: boolean;
  trainLoss: number;
  chanceLoss: number;
  testAccuracy: number | null;
  testCount: number | null;
  chanceAccuracy: number;
  /** The largest test accuracy still counted as chance at this test-set size. */
  chanceAccuracyBound: number;
}

/**
 * The collapse an epoch shows, or null. Nothing is judged before warm-up ends (the network may not
 * have started learning yet), except in the run's last epoch: a run that ends at chance collapsed,
 * however its schedule was laid out. The test accuracy counts in the last epoch only: mid-run it
 * lags a network that has just begun to learn (all its answers still one class while the loss
 * already falls), whereas a training loss back at chance after warm-up is a collapse at any epoch
 * unless the test accuracy is clearly above chance (a slow start, e.g. loss 2.281 with 17.45% of
 * 2,000 test images on ten classes: learning, not collapsed).
 */
export function detectCollapse(chance: ChanceLevel, signals: EpochSignals): Collapse | null {
  const last = signals.epoch >= signals.epochs;
  if (!last && signals.epoch < signals.warmupEpochs) return null;
  const bound = signals.test ? chanceAccuracyBound(chance, signals.test.count) : chance.accuracy;
  const learningShown = signals.test !== null && signals.test.count > 0 && signals.test.accuracy > bound;
  const lossAtChance = Number.isFinite(signals.trainLoss) && signals.trainLoss >= chance.loss * (1 - CHANCE_LOSS_TOLERANCE) && !learningShown;
  const accuracyAtChance = last && signals.test !== null && signals.test.count > 0 && !learningShown;
  if (!lossAtChance && !accuracyAtChance) return null;
  return {
    epoch: signals.epoch,
    lossAtChance,
    accuracyAtChance,
    trainLoss: signals.trainLoss,
    chanceLoss: chance.loss,
    testAccuracy: signals.test?.accuracy ?? null,
    testCount: signals.test?.count ?? null,
    chanceAccuracy: chance.accuracy,
    chanceAccuracyBound: bound,
  };
}

/** What the collapse is, in words: "training loss 2.3030 is at chance (2.3026 = ln 10 ...); test accuracy 10.00% on 10000 images is at chance (...)". */
export function describeCollapse(collapse: Collapse): string {
  const parts: string[] = [];
  if (collapse.lossAtChance) {
    // A loss far above a constant guess's (a diverged rate) is worse than one that sits on it: say which.
    const where = collapse.trainLoss > collapse.chanceLoss * (1 + CHANCE_LOSS_TOLERANCE) ? 'above' : 'at';
    parts.push(`training loss ${collapse.trainLoss.toFixed(4)} is ${where} the loss of a constant guess (${collapse.chanceLoss.toFixed(4)})`);
  }
  if (collapse.accuracyAtChance && collapse.testAccuracy !== null) {
    parts.push(
      `test accuracy ${pct(collapse.testAccuracy)} on ${collapse.testCount} images is at chance (${pct(collapse.chanceAccuracy)}; ` +
        `up to ${pct(collapse.chanceAccuracyBound)} is within ${CHANCE_ACCURACY_SIGMAS} standard errors of it)`,
    );
  }
  return parts.join('; ');
}

function pct(x: number): string {
  return `${(100 * x).toFixed(2)}%`;
}
