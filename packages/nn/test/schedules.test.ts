import { constantSchedule, cosineSchedule, createSchedule, linearSchedule, oneCycleMomentum, oneCycleSchedule, stepSchedule } from '../src';

describe('learning-rate schedules', () => {
  it('constant', () => {
    const s = constantSchedule(0.1);
    expect([0, 5, 1000].map(s)).toEqual([0.1, 0.1, 0.1]);
  });

  it('step decay (StepLR)', () => {
    const s = stepSchedule({ lr: 1, stepSize: 3, gamma: 0.5 });
    expect([0, 2, 3, 5, 6, 9].map(s)).toEqual([1, 1, 0.5, 0.5, 0.25, 0.125]);
  });

  it('cosine with linear warm-up', () => {
    const s = cosineSchedule({ lr: 1, total: 11, warmupSteps: 2, minLr: 0.1 });
    expect(s(0)).toBeCloseTo(0.5, 12);
    expect(s(1)).toBeCloseTo(1, 12);
    expect(s(2)).toBeCloseTo(1, 12); // the cosine starts at the peak
    expect(s(6)).toBeCloseTo(0.55, 12); // half way down (steps 2..10): (1 + 0.1) / 2
    expect(s(10)).toBeCloseTo(0.1, 12);
    expect(s(50)).toBeCloseTo(0.1, 12);
    for (let t = 2; t < 10; t++) expect(s(t + 1)).toBeLessThan(s(t));
  });

  it('one-cycle: starts at maxLr/divFactor, peaks at maxLr, ends at initial/finalDivFactor', () => {
    const s = oneCycleSchedule({ maxLr: 0.05, total: 100, pctStart: 0.3 });
    expect(s(0)).toBeCloseTo(0.05 / 25, 12);
    expect(s(29)).toBeCloseTo(0.05, 12);
    expect(s(99)).toBeCloseTo(0.05 / 25 / 1e4, 12);
    const m = oneCycleMomentum({ total: 100, pctStart: 0.3 });
    expect(m(0)).toBeCloseTo(0.95, 12);
    expect(m(29)).toBeCloseTo(0.85, 12);
    expect(m(99)).toBeCloseTo(0.95, 12);
    expect(() => s(101)).toThrow(/\b101\b.*\btotal 100\b/);
  });

  it('createSchedule builds each kind from plain JSON and rejects unknown ones', () => {
    expect(createSchedule({ kind: 'constant', lr: 0.2 })(7)).toBe(0.2);
    expect(createSchedule({ kind: 'step', lr: 1, stepSize: 2 })(2)).toBeCloseTo(0.1, 12);
    expect(createSchedule({ kind: 'cosine', lr: 1, total: 3 })(2)).toBeCloseTo(0, 12);
    expect(createSchedule({ kind: 'onecycle', maxLr: 1, total: 10 })(0)).toBeCloseTo(0.04, 12);
    expect(() => createSchedule({ kind: 'exponential' } as never)).toThrow(/createSchedule: .*"exponential".*constant, step, cosine, linear or onecycle/);
    expect(() => createSchedule({ kind: 'constant', lr: 1, gamma: 2 } as never)).toThrow(/constant schedule: .*'gamma'/);
    expect(() => cosineSchedule({ lr: 1, total: 5, warmupSteps: 5 })).toThrow(/warmupSteps .*\[0, total=5\).*got 5$/);
    expect(() => stepSchedule({ lr: 1, stepSize: 0 })).toThrow(/stepSchedule: stepSize .*got 0$/);
    expect(() => constantSchedule(0.1)(-1)).toThrow(/\bstep .*got -1$/);
  });
});

describe('linearSchedule (airbench94)', () => {
  it("equals airbench94's get_lr x lr at every step: 0.2 -> 1 over int(0.23 x total) steps, then -> 0.07", () => {
    const total = 97;
    const warmupSteps = Math.floor(total * 0.23);
    // airbench94.py's LambdaLR factor, written as it is there.
    const getLr = (step: number): number => {
      if (step < warmupSteps) {
        const frac = step / warmupSteps;
        return 0.2 * (1 - frac) + 1.0 * frac;
      }
      const frac = (step - warmupSteps) / (total - warmupSteps);
      return 1.0 * (1 - frac) + 0.07 * frac;
    };
    const lr = linearSchedule({ lr: 1.5, total, warmupSteps });
    for (let step = 0; step < total; step++) expect(lr(step)).toBeCloseTo(1.5 * getLr(step), 12);
    expect(lr(0)).toBeCloseTo(0.3, 12);
    expect(lr(warmupSteps)).toBe(1.5);
    expect(createSchedule({ kind: 'linear', lr: 1.5, total, warmupSteps })(40)).toBe(lr(40));
    expect(linearSchedule({ lr: 2, total: 10, startFactor: 1, endFactor: 0 })(5)).toBe(1);
    expect(() => linearSchedule({ lr: 1, total: 10, warmupSteps: 10 })).toThrow(/warmupSteps must be an integer in \[0, total=10\), got 10/);
  });
});
