import { checkFiniteNumber, checkOptions, checkPositiveInteger } from '../options';

/**
 * A learning-rate schedule: the lr for the optimizer step with 0-based index `step` (the number of
 * steps already taken), so a schedule with `total` steps is read at 0 .. total-1.
 */
export type Schedule = (step: number) => number;

/** A run's learning rate and, for one-cycle SGD, its momentum (null: the optimizer's own), for each 0-based optimizer step; and its Lookahead syncs. */
export interface HyperparameterSchedules {
  lr: Schedule;
  momentum: Schedule | null;
  /** Lookahead's syncs after each step (lookaheadSchedule: their decays, usually none); absent or null: no Lookahead. */
  lookahead?: ((step: number) => number[]) | null;
}

function checkStep(what: string, step: number): void {
  if (!Number.isInteger(step) || step < 0) throw new RangeError(`${what}: step must be a non-negative integer, got ${step}`);
}

/** A warm-up of `warmup` steps, which must leave at least one of the `total` steps after it. */
function checkWarmupSteps(what: string, warmup: number, total: number): number {
  if (!Number.isInteger(warmup) || warmup < 0 || warmup >= total) {
    throw new RangeError(`${what}: warmupSteps must be an integer in [0, total=${total}), got ${warmup}`);
  }
  return warmup;
}

export function constantSchedule(lr: number): Schedule {
  checkFiniteNumber('constantSchedule: lr', lr, 0);
  return (step) => {
    checkStep('constantSchedule', step);
    return lr;
  };
}

/** torch.optim.lr_scheduler.StepLR: lr * gamma^floor(step / stepSize). */
export function stepSchedule(options: { lr: number; stepSize: number; gamma?: number }): Schedule {
  checkOptions('stepSchedule', options, ['lr', 'stepSize', 'gamma']);
  const lr = checkFiniteNumber('stepSchedule: lr', options.lr, 0);
  const stepSize = checkPositiveInteger('stepSchedule: stepSize', options.stepSize);
  const gamma = checkFiniteNumber('stepSchedule: gamma', options.gamma ?? 0.1, 0);
  return (step) => {
    checkStep('stepSchedule', step);
    return lr * gamma ** Math.floor(step / stepSize);
  };
}

/**
 * Linear warm-up from lr/warmupSteps to lr over the first `warmupSteps` steps, then a half cosine
 * from lr down to minLr at step total-1 (and minLr after).
 */
export function cosineSchedule(options: { lr: number; total: number; warmupSteps?: number; minLr?: number }): Schedule {
  checkOptions('cosineSchedule', options, ['lr', 'total', 'warmupSteps', 'minLr']);
  const lr = checkFiniteNumber('cosineSchedule: lr', options.lr, 0);
  const total = checkPositiveInteger('cosineSchedule: total', options.total);
  const warmup = checkWarmupSteps('cosineSchedule', options.warmupSteps ?? 0, total);
  const minLr = checkFiniteNumber('cosineSchedule: minLr', options.minLr ?? 0, 0);
  const decaySteps = total - warmup - 1;
  return (step) => {
    checkStep('cosineSchedule', step);
    if (step < warmup) return (lr * (step + 1)) / warmup;
    if (decaySteps === 0) return lr;
    const t = Math.min(1, (step - warmup) / decaySteps);
    return minLr + ((lr - minLr) * (1 + Math.cos(Math.PI * t))) / 2;
  };
}

/**
 * airbench94's piecewise-linear schedule: from startFactor x lr at step 0 up to lr at step
 * `warmupSteps`, then down to endFactor x lr at step `total` (so endFactor x lr x (1 + 1/(total -
 * warmupSteps)) at the last step, total - 1, as airbench's LambdaLR reads it). Defaults 0.2 and 0.07.
 */
export function linearSchedule(options: { lr: number; total: number; warmupSteps?: number; startFactor?: number; endFactor?: number }): Schedule {
  checkOptions('linearSchedule', options, ['lr', 'total', 'warmupSteps', 'startFactor', 'endFactor']);
  const lr = checkFiniteNumber('linearSchedule: lr', options.lr, 0);
  const total = checkPositiveInteger('linearSchedule: total', options.total);
  const warmup = checkWarmupSteps('linearSchedule', options.warmupSteps ?? 0, total);
  const start = checkFiniteNumber('linearSchedule: startFactor', options.startFactor ?? 0.2, 0);
  const end = checkFiniteNumber('linearSchedule: endFactor', options.endFactor ?? 0.07, 0);
  return (step) => {
    checkStep('linearSchedule', step);
    if (step < warmup) {
      const f = step / warmup;
      return lr * (start * (1 - f) + f);
    }
    const f = Math.min(1, (step - warmup) / (total - warmup));
    return lr * ((1 - f) + end * f);
  };
}

export interface OneCycleOptions {
  maxLr: number;
  /** Number of optimizer steps in the whole run (epochs x steps per epoch). */
  total: number;
  /** Fraction of steps spent increasing the lr; default 0.3. */
  pctStart?: number;
  /** Initial lr = maxLr / divFactor; default 25. */
  divFactor?: number;
  /** Final lr = initial lr / finalDivFactor; default 1e4. */
  finalDivFactor?: number;
}

interface Phase {
  endStep: number;
  start: number;
  end: number;
}

function cosineAnneal(start: number, end: number, pct: number): number {
  return end + ((start - end) / 2) * (Math.cos(Math.PI * pct) + 1);
}

/** The two-phase cosine schedule of torch.optim.lr_scheduler.OneCycleLR (three_phase=False). */
function oneCyclePhases(what: string, options: OneCycleOptions, low: number, peak: number, final: number): (step: number) => number {
  const total = checkPositiveInteger(`${what}: total`, options.total);
  const pctStart = checkFiniteNumber(`${what}: pctStart`, options.pctStart ?? 0.3, 0);
  if (pctStart > 1) throw new RangeError(`${what}: pctStart must be in [0, 1], got ${pctStart}`);
  const phases: Phase[] = [
    { endStep: pctStart * total - 1, start: low, end: peak },
    { endStep: total - 1, start: peak, end: final },
  ];
  return (step) => {
    checkStep(what, step);
    if (step > total) throw new RangeError(`${what}: step ${step} is past total ${total} (as PyTorch, which raises)`);
    // Same walk as PyTorch's get_lr, including its float end_step for the first phase.
    let startStep = 0;
    for (let i = 0; i < phases.length; i++) {
      const phase = phases[i];
      if (step <= phase.endStep || i === phases.length - 1) {
        const pct = (step - startStep) / (phase.endStep - startStep);
        return cosineAnneal(phase.start, phase.end, pct);
      }
      startStep = phase.endStep;
    }
    /* istanbul ignore next: the loop always returns in its last phase */
    throw new Error('unreachable');
  };
}

/**
 * torch.optim.lr_scheduler.OneCycleLR with anneal_strategy='cos': lr rises from maxLr/divFactor to
 * maxLr over pctStart of the run, then falls to maxLr/divFactor/finalDivFactor.
 */
export function oneCycleSchedule(options: OneCycleOptions): Schedule {
  checkOptions('oneCycleSchedule', options, ['maxLr', 'total', 'pctStart', 'divFactor', 'finalDivFactor']);
  const maxLr = checkFiniteNumber('oneCycleSchedule: maxLr', options.maxLr, 0);
  const divFactor = checkFiniteNumber('oneCycleSchedule: divFactor', options.divFactor ?? 25, Number.MIN_VALUE);
  const finalDivFactor = checkFiniteNumber('oneCycleSchedule: finalDivFactor', options.finalDivFactor ?? 1e4, Number.MIN_VALUE);
  const initial = maxLr / divFactor;
  return oneCyclePhases('oneCycleSchedule', options, initial, maxLr, initial / finalDivFactor);
}

/**
 * OneCycleLR's momentum cycling (cycle_momentum=True): momentum falls from maxMomentum to
 * baseMomentum while the lr rises, then climbs back. Pass its value as SGD.step's `momentum`.
 * Optional: a trainer that keeps momentum fixed simply does not use it.
 */
export function oneCycleMomentum(options: { total: number; pctStart?: number; baseMomentum?: number; maxMomentum?: number }): Schedule {
  checkOptions('oneCycleMomentum', options, ['total', 'pctStart', 'baseMomentum', 'maxMomentum']);
  const base = checkFiniteNumber('oneCycleMomentum: baseMomentum', options.baseMomentum ?? 0.85, 0);
  const max = checkFiniteNumber('oneCycleMomentum: maxMomentum', options.maxMomentum ?? 0.95, 0);
  return oneCyclePhases('oneCycleMomentum', { maxLr: 0, ...options }, max, base, max);
}

/** Plain-JSON description of a schedule, so a config file or a message can carry it. */
export type ScheduleSpec =
  | { kind: 'constant'; lr: number }
  | { kind: 'step'; lr: number; stepSize: number; gamma?: number }
  | { kind: 'cosine'; lr: number; total: number; warmupSteps?: number; minLr?: number }
  | { kind: 'linear'; lr: number; total: number; warmupSteps?: number; startFactor?: number; endFactor?: number }
  | ({ kind: 'onecycle' } & OneCycleOptions);

export function createSchedule(spec: ScheduleSpec): Schedule {
  const { kind, ...rest } = spec as ScheduleSpec & Record<string, unknown>;
  switch (kind) {
    case 'constant':
      checkOptions('constant schedule', rest, ['lr']);
      return constantSchedule((rest as { lr: number }).lr);
    case 'step':
      return stepSchedule(rest as { lr: number; stepSize: number });
    case 'cosine':
      return cosineSchedule(rest as { lr: number; total: number });
    case 'onecycle':
      return oneCycleSchedule(rest as unknown as OneCycleOptions);
    case 'linear':
      return linearSchedule(rest as { lr: number; total: number });
    default:
      throw new RangeError(`createSchedule: unknown schedule kind ${JSON.stringify(kind)}; expected constant, step, cosine, linear or onecycle`);
  }
}
