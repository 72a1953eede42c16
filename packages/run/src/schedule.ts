import { createSchedule, lookaheadSchedule, oneCycleMomentum, type HyperparameterSchedules, type Schedule } from '@convoy/nn';
import type { RunConfig } from './config';

/** Learning rate (and, for one-cycle SGD, momentum) for each 0-based optimizer step of the run, and the Lookahead syncs after it. */
export function hyperparameterSchedules(config: RunConfig, stepsPerEpoch: number): HyperparameterSchedules {
  const total = config.epochs * stepsPerEpoch;
  let lr: Schedule;
  switch (config.schedule) {
    case 'onecycle':
      lr = createSchedule({ kind: 'onecycle', maxLr: config.lr, total, pctStart: config.warmup });
      break;
    case 'cosine':
      lr = createSchedule({ kind: 'cosine', lr: config.lr, total, warmupSteps: Math.floor(config.warmup * total) });
      break;
    case 'linear':
      // airbench94's: 0.2 x lr rising to lr over the first --warmup of the steps, then falling to 0.07 x lr.
      lr = createSchedule({ kind: 'linear', lr: config.lr, total, warmupSteps: Math.floor(config.warmup * total) });
      break;
    case 'step':
      lr = createSchedule({ kind: 'step', lr: config.lr, stepSize: Math.max(1, config.stepEpochs * stepsPerEpoch), gamma: config.gamma });
      break;
    case 'constant':
      lr = createSchedule({ kind: 'constant', lr: config.lr });
      break;
  }
  const momentum =
    config.schedule === 'onecycle' && config.cycleMomentum && config.optimizer === 'sgd'
      ? oneCycleMomentum({ total, pctStart: config.warmup, baseMomentum: config.momentum - 0.05, maxMomentum: config.momentum + 0.05 })
      : null;
  // A checkpoint written before Lookahead existed has no field: no Lookahead.
  const lookahead = (config.lookahead ?? 0) > 0 ? lookaheadSchedule({ every: config.lookahead, total }) : null;
  return { lr, momentum, lookahead };
}
