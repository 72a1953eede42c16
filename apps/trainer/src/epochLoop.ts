import type { HyperparameterSchedules } from '@convoy/nn';
import type { RunConfig } from '@convoy/run';
import { scheduledStep, StepDivergedError, type GradientPool } from '@convoy/worker';
import type { BatchSource } from './batchSource';
import type { MetricsLog } from './metricsLog';
import type { ProgressReporter } from './progress';
import type { RunPlacement } from './runPlacement';
import type { RunPosition } from './runCheckpoints';
import { TrainingDivergedError, type TrainingStepError } from './trainingErrors';

export type StopReason = 'max-steps' | 'interrupted';

export interface EpochLoopContext {
  config: RunConfig;
  /** The batches: a training set's shuffle, or a streamed split's draws. */
  batches: BatchSource;
  pool: GradientPool;
  schedules: HyperparameterSchedules;
  placement: RunPlacement;
  reporter: ProgressReporter;
  log: MetricsLog;
  /** Asked before every step (on every rank alike): a reason to stop now, or null. */
  stopIfAsked: () => Promise<StopReason | null>;
  /** A failure inside the loop, named by where it happened (and the checkpoint it left intact). */
  stoppedAt: (where: string, failedStep: number, err: unknown) => TrainingStepError;
  onStep?: (where: string) => void;
  /** Wall seconds since the run started (for the log). */
  elapsed: () => number;
}

export interface EpochTotals {
  lossSum: number;
  correct: number;
  images: number;
  /** Wall seconds of the epoch's steps in this invocation. */
  seconds: number;
  /** Seconds the pool spent in the steps (the sum of their timings). */
  stepSeconds: number;
}

/**
 * The remaining batches of `position.epoch` in its seeded order, one scheduled step each, advancing
 * `position` after every step; returns the totals of the steps it took and, when it stopped before
 * the epoch's end (the check before every step), why.
 */
export async function trainEpoch(ctx: EpochLoopContext, position: RunPosition): Promise<{ stopped: StopReason | null; totals: EpochTotals }> {
  const { config, pool, placement, reporter } = ctx;
  const { stepsPerEpoch, share } = placement;
  const epoch = position.epoch;
  reporter.startEpoch(epoch, config.epochs, stepsPerEpoch, position.stepInEpoch);
  try {
    await ctx.batches.startEpoch(epoch, position.stepInEpoch);
  } catch (err) {
    reporter.endEpoch();
    throw ctx.stoppedAt(`the start of epoch ${epoch + 1} (step ${position.step + 1})`, position.step + 1, err);
  }
  const epochStart = performance.now();
  const totals: EpochTotals = { lossSum: 0, correct: 0, images: 0, seconds: 0, stepSeconds: 0 };
  while (position.stepInEpoch < stepsPerEpoch) {
    const { step, stepInEpoch } = position;
    const where = `step ${step + 1} (epoch ${epoch + 1}, batch ${stepInEpoch + 1})`;
    let stop: StopReason | null;
    try {
      stop = await ctx.stopIfAsked();
    } catch (err) {
      reporter.endEpoch();
      throw ctx.stoppedAt(where, step + 1, err);
    }
    if (stop) {
      reporter.endEpoch();
      return { stopped: stop, totals };
    }
    ctx.onStep?.(where);
    let result;
    try {
      const part = await ctx.batches.next(stepInEpoch);
      result = await scheduledStep(pool, ctx.schedules, {
        ...part, globalBatch: config.batchSize, batchOffset: share.start, epoch, seed: config.seed, augment: config.augment, augmentation: config.augmentation, labelSmoothing: config.labelSmoothing, step, where: `epoch ${epoch + 1}, batch ${stepInEpoch + 1}`,
      });
    } catch (err) {
      reporter.endEpoch();
      if (err instanceof StepDivergedError) {
        throw new TrainingDivergedError(`${err.message} Lower --lr (or check the data); resume from an earlier checkpoint with --resume.`, err.step, epoch);
      }
      throw ctx.stoppedAt(where, step + 1, err);
    }
    position.step++;
    position.stepInEpoch++;
    totals.stepSeconds += result.timings.total;
    totals.lossSum += result.loss * result.count;
    totals.correct += result.correct;
    totals.images += result.count;
    const imagesPerSecond = result.count / result.timings.total;
    ctx.log.write({ type: 'step', step: position.step, epoch: epoch + 1, loss: result.loss, lr: result.lr, imagesPerSecond, elapsed: ctx.elapsed() });
    reporter.update({
      epoch, epochs: config.epochs, stepInEpoch: position.stepInEpoch, stepsInEpoch: stepsPerEpoch,
      loss: totals.lossSum / totals.images, imagesPerSecond: totals.images / ((performance.now() - epochStart) / 1000),
    });
  }
  reporter.endEpoch();
  totals.seconds = (performance.now() - epochStart) / 1000;
  return { stopped: null, totals };
}
