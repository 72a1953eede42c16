import { readFileSync } from 'fs';
import { join } from 'path';
import { gunzipSync } from 'zlib';
import { createWasmBackend } from '@convoy/kernels';
import { relativeError, Rng, Tensor } from '@convoy/tensor';
import { AdamW, buildModel, countParameters, createParameters, Module, RecipeModelSpec, oneCycleMomentum, oneCycleSchedule, SGD, softmaxCrossEntropy, stepSchedule } from '../src';

/**
 * Parity with PyTorch 1.13 on the CIFAR recipe network, batch 8 (fixtures written by
 * tools/pytorch/make_fixtures.py). Weights, input and labels are regenerated here from the seed by
 * convoy's Rng (the script ports it bit for bit); PyTorch's results are stored as int16 with a
 * power-of-two scale per tensor, i.e. to within 2^-15 of each tensor's largest magnitude, well
 * inside the 1e-4 relative tolerance (max |ours - torch| / max |torch| per tensor).
 */

interface Stored { offset: number; length: number; exponent: number }
interface FixtureParameter {
  name: string; shape: number[]; initialSum: number; initialFirst: number;
  grad: Stored; sgdDelta: Stored; adamwDelta: Stored;
}
interface Fixture {
  seed: number; batch: number; spec: RecipeModelSpec; parameterCount: number;
  labels: { values: number[] }; logits: number[]; loss: number;
  sgd: { momentum: number; nesterov: boolean; weightDecay: number; lrs: number[]; losses: number[] };
  adamw: { beta1: number; beta2: number; eps: number; weightDecay: number; lrs: number[]; losses: number[] };
  schedules: {
    oneCycle: { maxLr: number; total: number; pctStart: number; divFactor: number; finalDivFactor: number; lrs: number[]; momenta: number[] };
    step: { lr: number; stepSize: number; gamma: number; total: number; lrs: number[] };
  };
  data: { file: string };
  parameters: FixtureParameter[];
}

const TOLERANCE = 1e-4;
const dir = join(__dirname, 'fixtures');
const fixture: Fixture = JSON.parse(readFileSync(join(dir, 'recipe-cifar.json'), 'utf8'));
const planes = gunzipSync(readFileSync(join(dir, fixture.data.file)));
const count = planes.length / 2;

function decode(s: Stored): Float64Array {
  const out = new Float64Array(s.length);
  const scale = 2 ** s.exponent;
  for (let i = 0; i < s.length; i++) {
    const k = s.offset + i;
    out[i] = (((planes[k] | (planes[count + k] << 8)) << 16) >> 16) * scale; // sign-extend int16
  }
  return out;
}

function makeInput(): Tensor {
  const r = fixture.spec.resolution;
  const x = Tensor.zeros([fixture.batch, 3, r, r]);
  const rng = Rng.forKey(fixture.seed, 1);
  for (let i = 0; i < x.size; i++) x.data[i] = 4 * rng.uniform() - 2;
  return x;
}

function makeLabels(): Int32Array {
  const rng = Rng.forKey(fixture.seed, 2);
  return Int32Array.from({ length: fixture.batch }, () => rng.int(fixture.spec.classes));
}

function lossAndGradients(model: Module, x: Tensor, labels: Int32Array): number {
  const { loss, gradLogits } = softmaxCrossEntropy(model.forward(x), labels);
  model.backward(gradLogits);
  return loss;
}

describe('PyTorch parity: CIFAR recipe network, batch 8', () => {
  const model = buildModel(fixture.spec);
  const { params, grads } = createParameters(model, { seed: fixture.seed });
  const initial = params.data.slice();
  const x = makeInput();
  const labels = makeLabels();
  let logits: Float32Array;
  let loss: number;
  let firstGrads: Float32Array;

  beforeAll(() => {
    const out = model.forward(x);
    logits = out.data.slice();
    const result = softmaxCrossEntropy(out, labels);
    loss = result.loss;
    model.backward(result.gradLogits);
    firstGrads = grads.data.slice();
  });

  it('has the same parameters, names and shapes as the PyTorch state_dict', () => {
    expect(countParameters(model)).toBe(288298);
    expect(fixture.parameterCount).toBe(288298);
    expect(model.parameterSpecs()).toEqual(fixture.parameters.map((p) => ({ name: p.name, shape: p.shape })));
  });

  it('regenerates the same weights, input and labels from the seed', () => {
    for (const p of fixture.parameters) {
      const view = params.tensor(p.name).data;
      expect(view[0]).toBe(p.initialFirst);
      let s = 0;
      for (const v of view) s += v;
      expect(Math.abs(s - p.initialSum)).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(p.initialSum)));
    }
    expect(Array.from(labels)).toEqual(fixture.labels.values);
  });

  it('matches the logits and the loss', () => {
    expect(relativeError(logits, fixture.logits)).toBeLessThan(TOLERANCE);
    expect(Math.abs(loss - fixture.loss) / fixture.loss).toBeLessThan(TOLERANCE);
  });

  it('matches every parameter gradient', () => {
    for (const p of fixture.parameters) {
      const e = grads.entry(p.name);
      const err = relativeError(firstGrads.subarray(e.offset, e.offset + e.size), decode(p.grad));
      if (!(err < TOLERANCE)) throw new Error(`${p.name}: gradient relative error ${err}`);
      if (process.env.CONVOY_PARITY_REPORT) console.log(`grad ${p.name} ${err.toExponential(2)}`);
    }
  });

  function checkAfterSteps(what: string, deltaOf: (p: FixtureParameter) => Stored, losses: number[], deltaTolerance: number): void {
    for (const p of fixture.parameters) {
      const e = params.entry(p.name);
      const delta = decode(deltaOf(p));
      const expected = Float64Array.from(delta, (d, i) => initial[e.offset + i] + d);
      const after = params.data.subarray(e.offset, e.offset + e.size);
      const err = relativeError(after, expected);
      if (!(err < TOLERANCE)) throw new Error(`${what} ${p.name}: parameters after 3 steps, relative error ${err}`);
      // The change itself, a far stricter check than the parameters it is added to.
      const ours = Float64Array.from(after, (v, i) => v - initial[e.offset + i]);
      const deltaErr = relativeError(ours, delta);
      if (!(deltaErr < deltaTolerance)) throw new Error(`${what} ${p.name}: parameter change, relative error ${deltaErr}`);
      if (process.env.CONVOY_PARITY_REPORT) console.log(`${what} ${p.name} params ${err.toExponential(2)} change ${deltaErr.toExponential(2)}`);
    }
    expect(losses.length).toBe(3);
  }

  function runSteps(step: (k: number) => void, expectedLosses: number[]): number[] {
    params.data.set(initial);
    const losses: number[] = [];
    for (let k = 0; k < 3; k++) {
      if (k === 0) {
        grads.data.set(firstGrads);
        losses.push(loss);
      } else {
        losses.push(lossAndGradients(model, x, labels));
      }
      expect(Math.abs(losses[k] - expectedLosses[k]) / expectedLosses[k]).toBeLessThan(TOLERANCE);
      step(k);
    }
    return losses;
  }

  it('matches the parameters after 3 SGD steps (momentum, Nesterov, weight decay)', () => {
    const cfg = fixture.sgd;
    const sgd = new SGD({ size: params.size, momentum: cfg.momentum, nesterov: cfg.nesterov, weightDecay: cfg.weightDecay });
    // Two halves of the arena, as two threads would split the step.
    const half = Math.floor(params.size / 2);
    const losses = runSteps((k) => {
      sgd.step({ params, grads, lr: cfg.lrs[k], step: k + 1, start: 0, end: half });
      sgd.step({ params, grads, lr: cfg.lrs[k], step: k + 1, start: half, end: params.size });
    }, cfg.losses);
    checkAfterSteps('SGD', (p) => p.sgdDelta, losses, 1e-3);
  });

  it('matches the parameters after 3 AdamW steps', () => {
    const cfg = fixture.adamw;
    const adamw = new AdamW({ size: params.size, beta1: cfg.beta1, beta2: cfg.beta2, eps: cfg.eps, weightDecay: cfg.weightDecay, shared: true });
    const losses = runSteps((k) => adamw.step({ params, grads, lr: cfg.lrs[k], step: k + 1 }), cfg.losses);
    // Adam's first steps move each weight by about lr * sign(gradient): a gradient that is tiny in
    // both PyTorch and here may differ in sign, so the change is only checked loosely.
    checkAfterSteps('AdamW', (p) => p.adamwDelta, losses, 3e-3);
  });

  it("matches torch's OneCycleLR (lr and momentum) and StepLR", () => {
    const oc = fixture.schedules.oneCycle;
    const lr = oneCycleSchedule({ maxLr: oc.maxLr, total: oc.total, pctStart: oc.pctStart, divFactor: oc.divFactor, finalDivFactor: oc.finalDivFactor });
    const momentum = oneCycleMomentum({ total: oc.total, pctStart: oc.pctStart });
    for (let s = 0; s < oc.total; s++) {
      expect(lr(s)).toBeCloseTo(oc.lrs[s], 12);
      expect(momentum(s)).toBeCloseTo(oc.momenta[s], 12);
    }
    const st = fixture.schedules.step;
    const step = stepSchedule({ lr: st.lr, stepSize: st.stepSize, gamma: st.gamma });
    for (let s = 0; s < st.total; s++) expect(step(s)).toBeCloseTo(st.lrs[s], 12);
  });
});

// The fast CPU path the trainer uses by default must agree with PyTorch as well (it needs the
// kernels' build: `npx nx run @convoy/nn:test` builds it first).
describe('PyTorch parity with the WebAssembly backend', () => {
  it('matches the logits, the loss and every parameter gradient', () => {
    const backend = createWasmBackend();
    const model = buildModel(fixture.spec, { backend });
    const { grads } = createParameters(model, { seed: fixture.seed });
    const out = model.forward(makeInput());
    expect(relativeError(out.data, fixture.logits)).toBeLessThan(TOLERANCE);
    const { loss, gradLogits } = softmaxCrossEntropy(out, makeLabels());
    expect(Math.abs(loss - fixture.loss) / fixture.loss).toBeLessThan(TOLERANCE);
    model.backward(gradLogits);
    for (const p of fixture.parameters) {
      const err = relativeError(grads.tensor(p.name).data, decode(p.grad));
      if (!(err < TOLERANCE)) throw new Error(`wasm ${p.name}: gradient relative error ${err}`);
    }
  });
});
