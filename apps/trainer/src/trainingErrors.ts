/** Training stopped because the loss or the gradient became NaN/Inf; the message names the step. */
export class TrainingDivergedError extends Error {
  constructor(message: string, readonly step: number, readonly epoch: number) {
    super(message);
    this.name = 'TrainingDivergedError';
  }
}

/** A worker failed during a step; the message names the step, the worker task and the cause. */
export class TrainingStepError extends Error {
  constructor(message: string, readonly step: number, override readonly cause: unknown) {
    super(message);
    this.name = 'TrainingStepError';
  }
}
