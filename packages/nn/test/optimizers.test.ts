import { ParameterArena, Rng } from '@convoy/tensor';
import {
  AdamW, buildLayerList, buildModel, buildOptimizer, createParameters, initialParameters, lookaheadSchedule, lookaheadSync, optimizerStateNames, SGD, stepTrainable, trainableRanges, type ParameterGroup,
} from '../src';

const p0 = [0.5, -1.2, 2.0, 0.03, -0.7];
const gradsPerStep = [
  [0.1, -0.3, 0.02, 1.5, -0.4],
  [-0.2, 0.25, 0.0, 1.1, 0.3],
  [0.05, -0.1, -0.3, 0.9, 0.6],
];
const lrs = [0.1, 0.05, 0.2];

/** torch.optim.SGD's loop, written out in float64 for five scalars. */
function sgdReference(momentum: number, nesterov: boolean, wd: number): number[] {
  const p = p0.slice();
  const buf = p0.map(() => 0);
  gradsPerStep.forEach((g, t) => {
    for (let i = 0; i < p.length; i++) {
      let d = g[i] + wd * p[i];
      if (momentum !== 0) {
        buf[i] = t === 0 ? d : momentum * buf[i] + d;
        d = nesterov ? d + momentum * buf[i] : buf[i];
      }
      p[i] -= lrs[t] * d;
    }
  });
  return p;
}

function adamwReference(b1: number, b2: number, eps: number, wd: number): number[] {
  const p = p0.slice();
  const m = p0.map(() => 0);
  const v = p0.map(() => 0);
  gradsPerStep.forEach((g, t) => {
    const step = t + 1;
    for (let i = 0; i < p.length; i++) {
      p[i] *= 1 - lrs[t] * wd;
      m[i] = b1 * m[i] + (1 - b1) * g[i];
      v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
      const denom = Math.sqrt(v[i]) / Math.sqrt(1 - b2 ** step) + eps;
      p[i] -= (lrs[t] / (1 - b1 ** step)) * (m[i] / denom);
    }
  });
  return p;
}

function run(opt: SGD | AdamW, split?: number): Float32Array {
  const params = Float32Array.from(p0);
  gradsPerStep.forEach((g, t) => {
    const grads = Float32Array.from(g);
    if (split === undefined) opt.step({ params, grads, lr: lrs[t], step: t + 1 });
    else {
      opt.step({ params, grads, lr: lrs[t], step: t + 1, start: split, end: p0.length });
      opt.step({ params, grads, lr: lrs[t], step: t + 1, start: 0, end: split });
    }
  });
  return params;
}

function expectClose(actual: Float32Array, expected: number[]): void {
  expected.forEach((e, i) => expect(actual[i]).toBeCloseTo(e, 5));
}

describe('SGD', () => {
  it.each([
    ['plain', 0, false, 0],
    ['weight decay', 0, false, 0.01],
    ['momentum', 0.9, false, 0],
    ['Nesterov + weight decay', 0.9, true, 5e-4],
  ] as const)('%s matches the PyTorch update rule', (_name, momentum, nesterov, weightDecay) => {
    const opt = new SGD({ size: 5, momentum, nesterov, weightDecay });
    expectClose(run(opt), sgdReference(momentum, nesterov, weightDecay));
  });

  it('stepping disjoint ranges equals one whole step', () => {
    const whole = run(new SGD({ size: 5, momentum: 0.9, nesterov: true, weightDecay: 0.01 }));
    const split = run(new SGD({ size: 5, momentum: 0.9, nesterov: true, weightDecay: 0.01 }), 2);
    expect(Array.from(split)).toEqual(Array.from(whole));
  });

  it('momentum can be overridden per step (one-cycle momentum cycling)', () => {
    const opt = new SGD({ size: 1, momentum: 0.9 });
    const p = new Float32Array([1]);
    opt.step({ params: p, grads: new Float32Array([1]), lr: 1, step: 1, momentum: 0.5 });
    opt.step({ params: p, grads: new Float32Array([1]), lr: 1, step: 2, momentum: 0.5 });
    expect(p[0]).toBeCloseTo(1 - 1 - 1.5, 6);
  });

  it('keeps state on SharedArrayBuffers or adopts given arrays', () => {
    const shared = new SGD({ size: 5, momentum: 0.9, shared: true });
    expect(shared.state.momentumBuffer.buffer).toBeInstanceOf(SharedArrayBuffer);
    // a second optimizer over the same state (another thread) continues the same trajectory
    const params = Float32Array.from(p0);
    shared.step({ params, grads: Float32Array.from(gradsPerStep[0]), lr: lrs[0], step: 1 });
    const twin = new SGD({ size: 5, momentum: 0.9, state: { momentumBuffer: shared.state.momentumBuffer } });
    twin.step({ params, grads: Float32Array.from(gradsPerStep[1]), lr: lrs[1], step: 2 });
    shared.step({ params, grads: Float32Array.from(gradsPerStep[2]), lr: lrs[2], step: 3 });
    expectClose(params, sgdReference(0.9, false, 0));
  });

  it('without size, allocates its state at the first step', () => {
    const opt = new SGD({ momentum: 0.9, nesterov: true, weightDecay: 5e-4 });
    expect(opt.size).toBeUndefined();
    expect(opt.state).toEqual({});
    expectClose(run(opt), sgdReference(0.9, true, 5e-4));
    expect(opt.size).toBe(5);
    expect(opt.state.momentumBuffer.length).toBe(5);
  });

  it('adopting state infers the size from the arrays', () => {
    const opt = new AdamW({ state: { expAvg: new Float32Array(5), expAvgSq: new Float32Array(5) } });
    expect(opt.size).toBe(5);
    expect(() => new AdamW({ state: { expAvg: new Float32Array(5), expAvgSq: new Float32Array(4) } })).toThrow(/^AdamW: .*'expAvgSq'.*Float32Array of 5\b.*got 4$/);
  });

  it('accepts arenas directly', () => {
    const specs = [{ name: 'w', shape: [5] }];
    const params = new ParameterArena(specs);
    const grads = new ParameterArena(specs);
    params.set('w', p0);
    grads.set('w', [1, 1, 1, 1, 1]);
    new SGD({ size: 5 }).step({ params, grads, lr: 0.5, step: 1 });
    expectClose(params.data, p0.map((v) => v - 0.5));
  });

  it('rejects bad options and arguments', () => {
    expect(() => new SGD({ size: 5, nestrov: true } as never)).toThrow(/^SGD: .*'nestrov'.*\bnesterov\b/);
    expect(() => new SGD({ size: 5, nesterov: true })).toThrow(/^SGD: nesterov .*momentum > 0/);
    expect(() => new SGD({ size: 5, momentum: -1 })).toThrow(/^SGD: momentum .*>= 0.*got -1$/);
    expect(() => new SGD({ size: 5, momentum: 0.9, state: { momentumBuffer: new Float32Array(4) } })).toThrow(/^SGD: .*'momentumBuffer'.*Float32Array of 5\b.*got 4$/);
    expect(() => new SGD({ size: 5, state: {} })).toThrow(/^SGD: .*missing 'momentumBuffer'/);
    const opt = new SGD({ size: 5 });
    const p = new Float32Array(5);
    expect(() => opt.step({ params: p, grads: new Float32Array(4), lr: 0.1, step: 1 })).toThrow(/^SGD\.step: params \(5\) and grads \(4\)/);
    const withMomentum = new SGD({ size: 5, momentum: 0.9 });
    expect(() => withMomentum.step({ params: new Float32Array(6), grads: new Float32Array(6), lr: 0.1, step: 1 })).toThrow(/^SGD\.step: .*\b6\b.*state has 5\b.*one optimizer per model/);
    expect(() => opt.step({ params: p, grads: p, lr: 0.1, step: 1, start: 3, end: 2 })).toThrow(/^SGD\.step: .*\[3, 2\).*<= 5$/);
    expect(() => opt.step({ params: p, grads: p, lr: NaN, step: 1 })).toThrow(/^SGD\.step: lr .*got NaN$/);
    expect(() => opt.step({ params: p, grads: p, lr: 0.1, step: 0 })).toThrow(/^SGD\.step: step .*1-based.*got 0$/);
  });
});

describe('AdamW', () => {
  it('matches the PyTorch update rule (defaults and custom)', () => {
    expectClose(run(new AdamW({ size: 5 })), adamwReference(0.9, 0.999, 1e-8, 0.01));
    expectClose(run(new AdamW({ size: 5, beta1: 0.8, beta2: 0.99, eps: 1e-6, weightDecay: 0.1 })), adamwReference(0.8, 0.99, 1e-6, 0.1));
  });

  it('stepping disjoint ranges equals one whole step; state is shareable', () => {
    const whole = run(new AdamW({ size: 5 }));
    const opt = new AdamW({ size: 5, shared: true });
    expect(opt.state.expAvg.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(Array.from(run(opt, 3))).toEqual(Array.from(whole));
  });

  it('rejects bad options', () => {
    expect(() => new AdamW({ size: 5, betas: [0.9, 0.99] } as never)).toThrow(/^AdamW: .*'betas'.*\bbeta1, beta2\b/);
    expect(() => new AdamW({ size: 5, beta2: 1 })).toThrow(/^AdamW: betas .*\[0, 1\).*got 0\.9, 1$/);
  });
});

describe('buildOptimizer', () => {
  it('builds SGD and AdamW from plain JSON with the state names optimizerStateNames gives', () => {
    const sgd = buildOptimizer({ name: 'sgd', momentum: 0.9, nesterov: true, weightDecay: 0 }, { size: 4 });
    expect(sgd).toBeInstanceOf(SGD);
    expect(Object.keys(sgd.state)).toEqual(optimizerStateNames({ name: 'sgd', momentum: 0.9, nesterov: true, weightDecay: 0 }));
    const adamw = buildOptimizer({ name: 'adamw', beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 }, { size: 4 });
    expect(adamw).toBeInstanceOf(AdamW);
    expect(Object.keys(adamw.state)).toEqual(optimizerStateNames({ name: 'adamw', beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 }));
    expect(() => buildOptimizer({ name: 'rmsprop' } as never)).toThrow(/'rmsprop'.*\bsgd\b.*\badamw\b/);
  });

  it('lets a step override SGD momentum', () => {
    const a = buildOptimizer({ name: 'sgd', momentum: 0.9, nesterov: false, weightDecay: 0 }, { size: 1 });
    const b = buildOptimizer({ name: 'sgd', momentum: 0.5, nesterov: false, weightDecay: 0 }, { size: 1 });
    const pa = new Float32Array([1]);
    const pb = new Float32Array([1]);
    for (let t = 1; t <= 3; t++) {
      a.step({ params: pa, grads: new Float32Array([1]), lr: 0.1, step: t, momentum: 0.5 });
      b.step({ params: pb, grads: new Float32Array([1]), lr: 0.1, step: t });
    }
    expect(pa).toEqual(pb);
  });
});

describe('parameter groups (trainableRanges, stepTrainable)', () => {
  // A conv (weight 4, bias 2), a BatchNorm (weight 2, bias 2) and a weightless one (bias 2): 12 values.
  const model = buildLayerList({
    input: { channels: 2, resolution: 2 },
    layers: [{ type: 'conv2d', out: 2, kernel: 1 }, { type: 'batchnorm2d' }, { type: 'batchnorm2d', weight: false }, { type: 'flatten' }],
  }, 8);
  const { params } = createParameters(model, { seed: 1 });

  it('a model names its BatchNorm parameters, weight and bias where it has them', () => {
    expect(model.batchNormParameters()).toEqual(['layers.1.weight', 'layers.1.bias', 'layers.2.bias']);
    expect(buildModel({ kind: 'recipe', resolution: 32, classes: 10, width: 4 }).batchNormParameters()).toEqual([]);
  });

  it('splits the arena into the group\'s ranges and the rest, leaving frozen ones out', () => {
    const group: ParameterGroup = { names: model.batchNormParameters(), lrScale: 64, weightDecay: 1e-5 };
    expect(trainableRanges(params.entries, [], [group])).toEqual([[0, 6], [6, 12, group]]);
    expect(trainableRanges(params.entries, ['layers.0.bias'], [group])).toEqual([[0, 4], [6, 12, group]]);
    expect(trainableRanges(params.entries, [], [])).toBeNull();
    expect(() => trainableRanges(params.entries, [], [{ ...group, names: ['layers.9.bias'] }])).toThrow(/layers\.9\.bias not in the arena/);
  });

  it('steps a group at lr x lrScale with its own weight decay, the rest with the optimizer\'s, as torch.optim.SGD\'s parameter groups', () => {
    const group: ParameterGroup = { names: model.batchNormParameters(), lrScale: 64, weightDecay: 2e-5 };
    const ranges = trainableRanges(params.entries, [], [group]);
    const p = Float32Array.from(params.data);
    const grads = p.map((_, i) => Math.sin(i + 1));
    const sgd = new SGD({ size: p.length, momentum: 0.85, nesterov: true, weightDecay: 1.3e-3 });
    // The two groups as two optimizers over their own ranges: PyTorch's param_groups.
    const rest = new SGD({ size: p.length, momentum: 0.85, nesterov: true, weightDecay: 1.3e-3 });
    const norm = new SGD({ size: p.length, momentum: 0.85, nesterov: true, weightDecay: 2e-5 });
    const q = Float32Array.from(params.data);
    for (let t = 1; t <= 3; t++) {
      // stepped in two chunks that cut the group, as the pool's threads do
      stepTrainable(sgd, { params: p, grads, lr: 0.01 * t, step: t, start: 0, end: 7 }, ranges);
      stepTrainable(sgd, { params: p, grads, lr: 0.01 * t, step: t, start: 7, end: 12 }, ranges);
      rest.step({ params: q, grads, lr: 0.01 * t, step: t, start: 0, end: 6 });
      norm.step({ params: q, grads, lr: 0.01 * t * 64, step: t, start: 6, end: 12 });
    }
    expect(p).toEqual(q);
    expect(p.subarray(6)).not.toEqual(params.data.subarray(6));
  });

  it('AdamW takes a group\'s weight decay too, and a bad one is refused', () => {
    const a = new AdamW({ size: 1, weightDecay: 0.5 });
    const b = new AdamW({ size: 1, weightDecay: 0.01 });
    const pa = new Float32Array([1]);
    const pb = new Float32Array([1]);
    a.step({ params: pa, grads: new Float32Array([0.3]), lr: 0.1, step: 1, weightDecay: 0.01 });
    b.step({ params: pb, grads: new Float32Array([0.3]), lr: 0.1, step: 1 });
    expect(pa).toEqual(pb);
    expect(() => new SGD({ size: 1 }).step({ params: pa, grads: pb, lr: 0.1, step: 1, weightDecay: -1 })).toThrow(/SGD\.step: weightDecay/);
  });
});

describe('initialParameters', () => {
  it('is the initialisation a built model draws, from the same rng', () => {
    const spec = { kind: 'recipe' as const, resolution: 32, classes: 10, width: 4 };
    const arena = initialParameters(spec, new Rng(3), { shared: true });
    const model = buildModel(spec);
    const { params } = createParameters(model, { seed: 3 });
    expect(arena.isShared).toBe(true);
    expect(arena.data).toEqual(params.data);
  });
});

describe('Lookahead (lookaheadSchedule, lookaheadSync)', () => {
  it("syncs every k steps with airbench94's ramp 0.95^k (t/total)^3, and after the last step with decay 1", () => {
    const at = lookaheadSchedule({ every: 5, total: 12 });
    expect([0, 1, 2, 3].map(at)).toEqual([[], [], [], []]);
    expect(at(4)).toEqual([0.95 ** 5 * (5 / 12) ** 3]);
    expect(at(9)).toEqual([0.95 ** 5 * (10 / 12) ** 3]);
    expect(at(11)).toEqual([1]);
    // a last step that is also a regular sync gets both, in that order (airbench's loop)
    expect(lookaheadSchedule({ every: 5, total: 10 })(9)).toEqual([0.95 ** 5, 1]);
    expect(() => at(12)).toThrow(/step must be an integer in \[0, 12\), got 12/);
    expect(() => lookaheadSchedule({ every: 0, total: 12 })).toThrow(/every/);
  });

  it("moves the slow copy toward the network by torch.lerp's float32 formula and restarts the network from it", () => {
    const slow = new Float32Array([1, -2, 0.5, 3]);
    const fast = new Float32Array([2, 2, 0.5, -1]);
    for (const decay of [0.1, 0.7]) {
      const s = slow.slice();
      const f = fast.slice();
      lookaheadSync(s, f, decay);
      const weight = Math.fround(1 - decay);
      const expected = Array.from(slow, (v, i) => {
        const diff = Math.fround(fast[i] - v);
        return weight < 0.5 ? Math.fround(v + Math.fround(weight * diff)) : Math.fround(fast[i] - Math.fround(diff * Math.fround(1 - weight)));
      });
      expect(Array.from(s)).toEqual(expected);
      expect(f).toEqual(s);
      for (let i = 0; i < 4; i++) expect(s[i]).toBeCloseTo(decay * slow[i] + (1 - decay) * fast[i], 6);
    }
    // decay 1: the network takes the slow copy, which stays; decay 0: the slow copy takes the network
    const s = slow.slice();
    const f = fast.slice();
    lookaheadSync(s, f, 1);
    expect([s, f]).toEqual([slow, slow]);
    const s0 = slow.slice();
    lookaheadSync(s0, fast.slice(), 0);
    expect(s0).toEqual(fast);
    expect(() => lookaheadSync(slow.slice(), new Float32Array(3), 0.5)).toThrow(/slow copy has 4 values, the network 3/);
    expect(() => lookaheadSync(slow.slice(), fast.slice(), 1.5)).toThrow(/decay must be in \[0, 1\]/);
  });
});
