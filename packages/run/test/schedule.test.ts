import { DEFAULT_RUN_CONFIG, configProblems, optimizerSpecFor } from '../src/config';
import { hyperparameterSchedules } from '../src/schedule';

describe('hyperparameter schedules', () => {
  it('one-cycle (the default run configuration): lr from max/25 up to max at 30% and down to ~0; momentum 0.95 -> 0.85 -> 0.95', () => {
    const { lr, momentum } = hyperparameterSchedules(DEFAULT_RUN_CONFIG, 390);
    const total = 15 * 390;
    expect(lr(0)).toBeCloseTo(0.05 / 25, 10);
    const peak = Math.round(0.3 * total) - 1;
    expect(lr(peak)).toBeCloseTo(0.05, 6);
    expect(lr(total - 1)).toBeLessThan(1e-6);
    expect(momentum).not.toBeNull();
    expect(momentum!(0)).toBeCloseTo(0.95, 10);
    expect(momentum!(peak)).toBeCloseTo(0.85, 6);
    expect(momentum!(total - 1)).toBeCloseTo(0.95, 6);
  });

  it('keeps momentum fixed with --no-cycle-momentum or AdamW', () => {
    expect(hyperparameterSchedules({ ...DEFAULT_RUN_CONFIG, cycleMomentum: false }, 10).momentum).toBeNull();
    expect(hyperparameterSchedules({ ...DEFAULT_RUN_CONFIG, optimizer: 'adamw' }, 10).momentum).toBeNull();
  });

  it('step: multiplies by gamma every --step-epochs epochs', () => {
    const { lr } = hyperparameterSchedules({ ...DEFAULT_RUN_CONFIG, schedule: 'step', lr: 0.1, stepEpochs: 2, gamma: 0.5 }, 10);
    expect(lr(19)).toBeCloseTo(0.1, 12);
    expect(lr(20)).toBeCloseTo(0.05, 12);
    expect(lr(40)).toBeCloseTo(0.025, 12);
  });

  it('cosine: linear warm-up over --warmup of the run, then down to 0', () => {
    const { lr } = hyperparameterSchedules({ ...DEFAULT_RUN_CONFIG, schedule: 'cosine', lr: 0.1, epochs: 10, warmup: 0.1 }, 10);
    expect(lr(0)).toBeCloseTo(0.01, 12);
    expect(lr(9)).toBeCloseTo(0.1, 12);
    expect(lr(99)).toBeCloseTo(0, 12);
  });

  it('constant', () => {
    const { lr } = hyperparameterSchedules({ ...DEFAULT_RUN_CONFIG, schedule: 'constant', lr: 0.3 }, 10);
    expect([lr(0), lr(77)]).toEqual([0.3, 0.3]);
  });

  it('reports flag combinations that cannot work', () => {
    expect(configProblems(DEFAULT_RUN_CONFIG)).toEqual([]);
    expect(configProblems({ ...DEFAULT_RUN_CONFIG, momentum: 0 })).toEqual([
      '--nesterov needs --momentum > 0 (or pass --no-nesterov)',
      '--schedule onecycle cycles momentum between momentum-0.05 and momentum+0.05; use --momentum in [0.05, 0.95] or --no-cycle-momentum',
    ]);
    expect(configProblems({ ...DEFAULT_RUN_CONFIG, schedule: 'cosine', warmup: 1 })).toEqual(['--warmup must be below 1 for the cosine schedule']);
  });

  it('gives the optimizer a BatchNorm group only when the run asks for one', () => {
    expect(optimizerSpecFor(DEFAULT_RUN_CONFIG)).toEqual({ name: 'sgd', momentum: 0.9, nesterov: true, weightDecay: 5e-4 });
    expect(optimizerSpecFor({ ...DEFAULT_RUN_CONFIG, batchNormLrScale: 64 }).batchNorm).toEqual({ lrScale: 64, weightDecay: 5e-4 });
    expect(optimizerSpecFor({ ...DEFAULT_RUN_CONFIG, batchNormWeightDecay: 0 }).batchNorm).toEqual({ lrScale: 1, weightDecay: 0 });
    expect(optimizerSpecFor({ ...DEFAULT_RUN_CONFIG, whiteningBiasEpochs: 3 }, 48).whiteningBiasSteps).toBe(144);
    expect(() => optimizerSpecFor({ ...DEFAULT_RUN_CONFIG, whiteningBiasEpochs: 3 })).toThrow(/--whitening-bias-epochs needs the run's steps per epoch/);
    expect(configProblems({ ...DEFAULT_RUN_CONFIG, batchNormLrScale: 0, batchNormWeightDecay: Number.NaN })).toEqual([
      '--batch-norm-lr-scale must be a finite number > 0, got 0',
      '--batch-norm-weight-decay must be a finite number >= 0, got NaN',
    ]);
  });
});
