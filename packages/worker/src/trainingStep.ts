import type { HyperparameterSchedules } from '@convoy/nn';
import type { BatchRequest, GradientPool, TrainStepResult } from './gradientPool';

/*
 * The one optimizer step every caller takes (the trainer's loop, its MPI ranks, the scaling
 * measurements, the benchmarks and the browser playground). It lives here, beside the pool, rather
 * than in @convoy/run: worker and run sit side by side above nn (docs/ARCHITECTURE.md), so neither
 * may import the other, and the playground may import worker's portable entry but not the trainer.
 * The run's schedules therefore come in as plain functions of the step (nn's HyperparameterSchedules).
 */

export interface ScheduledStepRequest extends BatchRequest {
  /** 0-based index of this optimizer step in the run: the index the schedules take. */
  step: number;
  /** Samples in the global batch over all hosts (the gradient's divisor); default `indices.length`. */
  globalBatch?: number;
  /** Where the step sits, for the message if it diverges ("epoch 1, batch 7"). */
  where?: string;
}

export interface ScheduledStepResult extends TrainStepResult {
  /** The learning rate the schedule gave this step. */
  lr: number;
}

/** The loss or a gradient was not finite: the optimizer did not step and the parameters are untouched. */
export class StepDivergedError extends Error {
  constructor(
    message: string,
    /** 1-based number of the step that diverged. */
    readonly step: number,
    readonly lr: number,
    readonly loss: number,
  ) {
    super(message);
    this.name = 'StepDivergedError';
  }
}

/**
 * Looks up the step's lr (and one-cycle momentum), runs forward, backward, the reduce and the
 * optimizer through the pool, then the Lookahead syncs scheduled after the step, and throws StepDivergedError when the step did not update the
 * parameters (a non-finite loss or gradient on any thread or host).
 */
export async function scheduledStep(
  pool: GradientPool, schedules: HyperparameterSchedules, request: ScheduledStepRequest,
): Promise<ScheduledStepResult> {
  const { step } = request;
  const lr = schedules.lr(step);
  const momentum = schedules.momentum ? schedules.momentum(step) : undefined;
  const result = await pool.trainStep({
    indices: request.indices,
    globalBatch: request.globalBatch,
    batchOffset: request.batchOffset,
    epoch: request.epoch,
    seed: request.seed,
    augment: request.augment,
    ...(request.augmentation ? { augmentation: request.augmentation } : {}),
    ...(request.sampleKeys ? { sampleKeys: request.sampleKeys } : {}),
    labelSmoothing: request.labelSmoothing,
    hyper: { step, lr, momentum },
  });
  if (!result.stepped) {
    const where = request.where ? `${request.where}, ` : '';
    throw new StepDivergedError(
      `training diverged at step ${step + 1} (${where}lr ${lr.toPrecision(4)}): loss ${result.loss}; ` +
        `${result.diverged ?? 'non-finite values'}. Parameters were not updated by this step.`,
      step + 1,
      lr,
      result.loss,
    );
  }
  // Lookahead's syncs follow the step they are scheduled after (none on most steps).
  for (const decay of schedules.lookahead?.(step) ?? []) pool.syncLookahead(decay);
  return { ...result, lr };
}

/** A fixed learning rate and the optimizer's own momentum (the speed measurements' step). */
export function constantLearningRate(lr: number): HyperparameterSchedules {
  return { lr: () => lr, momentum: null };
}
