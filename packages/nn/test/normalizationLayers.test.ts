import { ParameterArena, Rng, Tensor } from '@convoy/tensor';
import {
  applyGroupStatisticsInOrder, BatchNorm2d, Conv2d, createParameters, Dropout, erf, erfc, Flatten, GELU, GlobalMaxPool2d, Linear, ReLU, Residual, Scale,
  Sequential,
} from '../src';
import { distinctValues, gradCheck } from './gradcheck';
import { DROPOUT_CONTEXT, erf64, erfc64, gelu64 } from './float64Reference';

const TOL = 1e-5;

function expectGradients(result: ReturnType<typeof gradCheck>): void {
  if (result.worst > TOL) throw new Error(`gradient mismatch in ${result.worstName}: relative error ${result.worst}`);
  expect(result.forwardError).toBeLessThan(1e-5);
  expect(result.checked).toBeGreaterThan(0);
  expect(result.skipped).toBe(0);
}

function randomInput(shape: number[], seed: number, scale = 1, shift = 0): Tensor {
  const rng = new Rng(seed);
  const x = Tensor.zeros(shape);
  for (let i = 0; i < x.size; i++) x.data[i] = shift + scale * (2 * rng.uniform() - 1);
  return x;
}

describe('gradients of the new layers vs float64 finite differences', () => {
  it('BatchNorm2d, one group (a conv without bias before it, whose bias BatchNorm would cancel)', () => {
    expectGradients(gradCheck(new Sequential([new Conv2d(2, 3, 3, { padding: 1, bias: false }), new BatchNorm2d(3)]), [4, 2, 5, 5]));
  });
  it('BatchNorm2d, three ghost groups of 2 (the last one short), then Linear', () => {
    const net = new Sequential([new BatchNorm2d(3, { groupSize: 2 }), new Flatten(), new Linear(3 * 4 * 4, 5)]);
    expectGradients(gradCheck(net, [5, 3, 4, 4]));
  });
  it('BatchNorm2d without affine parameters, inputs with a large mean', () => {
    const net = new Sequential([new BatchNorm2d(2, { affine: false, groupSize: 3 }), new Flatten(), new Linear(2 * 9, 3)]);
    expectGradients(gradCheck(net, [6, 2, 3, 3], { fillInput: (d, rng) => d.forEach((_, i) => { d[i] = 20 + 2 * rng.uniform(); }) }));
  });
  it('BatchNorm2d with the ReLU after it fused into its passes (Sequential fuseReLU), and in eval mode', () => {
    const make = () => new Sequential([new Conv2d(2, 3, 3, { padding: 1, bias: false }), new BatchNorm2d(3, { groupSize: 2 }), new ReLU(), new Flatten(), new Linear(3 * 16, 4)], { fuseReLU: true });
    expectGradients(gradCheck(make(), [4, 2, 4, 4]));
  });
  it('GELU', () => expectGradients(gradCheck(new GELU(), [2, 3, 4, 5], { fillInput: (d, rng) => d.forEach((_, i) => { d[i] = 8 * rng.uniform() - 4; }) })));
  it('Scale', () => expectGradients(gradCheck(new Sequential([new Linear(4, 3), new Scale(0.125)]), [2, 4])));
  it('Dropout (p = 0.3) in training', () => {
    const net = new Sequential([new Linear(6, 8), new Dropout(0.3), new Linear(8, 3)]);
    net.setStepContext(DROPOUT_CONTEXT);
    expectGradients(gradCheck(net, [4, 6]));
  });
  it('Residual around conv, BatchNorm, ReLU', () => {
    const net = new Sequential([
      new Conv2d(2, 3, 1),
      new Residual([new Conv2d(3, 3, 3, { padding: 1, bias: false }), new BatchNorm2d(3), new ReLU()]),
      new Flatten(), new Linear(3 * 16, 4),
    ]);
    expectGradients(gradCheck(net, [3, 2, 4, 4]));
  });
  it('GlobalMaxPool2d', () => expectGradients(gradCheck(new GlobalMaxPool2d(), [2, 3, 4, 5], { fillInput: distinctValues(0.05) })));
});

describe('BatchNorm2d ghost groups', () => {
  const shape = [8, 3, 4, 4];

  function built(groupSize: number) {
    const bn = new BatchNorm2d(3, { groupSize, momentum: 0.25 });
    const { params, buffers } = createParameters(bn, { seed: 1 });
    const rng = new Rng(9);
    for (let i = 0; i < params.data.length; i++) params.data[i] = 2 * rng.uniform() - 0.5;
    return { bn, params, buffers };
  }

  it('a batch split into shards on group boundaries gives the outputs and running statistics of the whole batch', () => {
    const x = randomInput(shape, 3, 2, 1);
    const whole = built(2);
    const y = whole.bn.forward(x).data.slice();

    const parts = built(2);
    const rowSize = parts.bn.groupStatisticsSize();
    const rows = new Float32Array(4 * rowSize);
    const per = 3 * 16;
    const ys: number[] = [];
    for (const [start, count] of [[0, 2], [2, 6]]) {
      parts.bn.setStepContext({ seed: 1, step: 0, batchOffset: start, globalBatch: 8, deferStatistics: true });
      const shard = Tensor.from(x.data.slice(start * per, (start + count) * per), [count, 3, 4, 4]);
      ys.push(...parts.bn.forward(shard).data);
      parts.bn.writeGroupStatistics(rows, rowSize, start / 2, 0);
    }
    expect(Float32Array.from(ys)).toEqual(y);
    applyGroupStatisticsInOrder(parts.bn, rows, 4);
    expect(parts.buffers.data).toEqual(whole.buffers.data);
    expect(whole.buffers.tensor('num_batches_tracked').data[0]).toBe(4);
  });

  it('running statistics follow PyTorch: momentum updates per group, unbiased variance', () => {
    const x = randomInput([2, 1, 2, 2], 4);
    const bn = new BatchNorm2d(1, { groupSize: 2 });
    const { buffers } = createParameters(bn, { seed: 1 });
    bn.forward(x);
    const v = Array.from(x.data);
    const mean = v.reduce((a, b) => a + b, 0) / v.length;
    const unbiased = v.reduce((a, b) => a + (b - mean) ** 2, 0) / (v.length - 1);
    expect(buffers.tensor('running_mean').data[0]).toBeCloseTo(0.1 * mean, 6);
    expect(buffers.tensor('running_var').data[0]).toBeCloseTo(0.9 + 0.1 * unbiased, 6);
  });

  it('eval mode normalises with the running statistics', () => {
    const { bn, params, buffers } = built(4);
    buffers.tensor('running_mean').data.set([0.5, -1, 2]);
    buffers.tensor('running_var').data.set([4, 0.25, 1]);
    bn.eval();
    const x = randomInput(shape, 5);
    const y = bn.forward(x);
    const w = params.tensor('weight').data;
    const b = params.tensor('bias').data;
    const mean = [0.5, -1, 2];
    const variance = [4, 0.25, 1];
    for (let i = 0; i < x.size; i += 7) {
      const c = Math.floor(i / 16) % 3;
      expect(y.data[i]).toBeCloseTo(((x.data[i] - mean[c]) / Math.sqrt(variance[c] + 1e-5)) * w[c] + b[c], 5);
    }
    expect(buffers.tensor('num_batches_tracked').data[0]).toBe(0);
  });

  it('a shard that straddles a group says which batch sizes work', () => {
    const bn = new BatchNorm2d(3, { groupSize: 4 });
    createParameters(bn);
    bn.setStepContext({ seed: 1, step: 0, batchOffset: 2, globalBatch: 8 });
    expect(() => bn.forward(randomInput([6, 3, 2, 2], 1))).toThrow(/ghost-group boundaries.*multiples of 4/);
  });

  it('buffers are named as PyTorch state_dict keys, inside residual bodies too', () => {
    const net = new Sequential([new Conv2d(3, 4, 3), new BatchNorm2d(4), new Residual([new Conv2d(4, 4, 1), new BatchNorm2d(4, { affine: false })])]);
    expect(net.bufferSpecs().map((s) => s.name)).toEqual([
      '1.running_mean', '1.running_var', '1.num_batches_tracked',
      '2.layers.1.running_mean', '2.layers.1.running_var', '2.layers.1.num_batches_tracked',
    ]);
    expect(net.parameterSpecs().map((s) => s.name)).toEqual(['0.weight', '0.bias', '1.weight', '1.bias', '2.layers.0.weight', '2.layers.0.bias']);
    expect(net.groupStatisticsSize()).toBe(16);
  });
});

describe('train/eval mode and Dropout', () => {
  it('train(false) and eval() reach every layer, inside residual bodies', () => {
    const inner = new Dropout(0.5);
    const net = new Sequential([new Linear(2, 2), new Residual([inner])]);
    net.eval();
    expect(inner.training).toBe(false);
    net.train();
    expect(inner.training).toBe(true);
  });

  it('masks depend on the image position in the global batch, not on the shard', () => {
    const x = randomInput([6, 50], 2);
    const whole = new Dropout(0.4);
    whole.setStepContext({ seed: 3, step: 7, batchOffset: 0 });
    const y = whole.forward(x).data.slice();
    const shard = new Dropout(0.4);
    shard.setName(whole.name);
    shard.setStepContext({ seed: 3, step: 7, batchOffset: 4 });
    expect(shard.forward(Tensor.from(x.data.slice(200), [2, 50])).data).toEqual(y.subarray(200));
    const zeros = y.filter((v) => v === 0).length;
    expect(zeros / y.length).toBeGreaterThan(0.3);
    expect(zeros / y.length).toBeLessThan(0.5);
    for (let i = 0; i < y.length; i++) if (y[i] !== 0) expect(y[i]).toBeCloseTo(x.data[i] / 0.6, 5);
    whole.setStepContext({ seed: 3, step: 8, batchOffset: 0 });
    expect(whole.forward(x).data).not.toEqual(y);
  });

  it('two dropout layers of one network draw different masks', () => {
    const net = new Sequential([new Dropout(0.5), new Dropout(0.5)]);
    const [a, b] = net.childModules() as Dropout[];
    expect(a.key).not.toBe(b.key);
  });

  it('is the identity in eval mode, and asks for a step context in training', () => {
    const x = randomInput([2, 5], 1);
    const d = new Dropout(0.5);
    expect(() => d.forward(x)).toThrow(/setStepContext/);
    d.eval();
    expect(d.forward(x).data).toEqual(x.data);
  });
});

describe('GELU', () => {
  it('erf is accurate to float32 over the real line', () => {
    let worst = 0;
    for (let x = -6; x <= 6; x += 0.001) worst = Math.max(worst, Math.abs(erf(x) - erf64(x)));
    expect(worst).toBeLessThan(2e-7);
  });
  it('erfc keeps its relative accuracy far into the right tail', () => {
    let worst = 0;
    for (let x = 0; x <= 26; x += 0.01) worst = Math.max(worst, Math.abs(erfc(x) / erfc64(x) - 1));
    expect(worst).toBeLessThan(1e-7);
  });
  it('x·Φ(x) keeps its relative accuracy far into the negative tail', () => {
    const g = new GELU();
    const x = Tensor.from(Float32Array.from([-8, -5, -3, -1, 0, 1, 3]), [7]);
    const y = g.forward(x);
    for (let i = 0; i < x.size; i++) {
      const v = x.data[i];
      const exact = gelu64(v);
      expect(Math.abs(y.data[i] - exact)).toBeLessThanOrEqual(1e-6 * Math.abs(exact) + 1e-30);
    }
  });
  it('backward after an eval forward gives the gradient of a training forward', () => {
    const x = randomInput([2, 3, 4, 4], 3);
    const dy = randomInput([2, 3, 4, 4], 4);
    const trained = new GELU();
    trained.forward(x);
    const expected = Float32Array.from(trained.backward(dy).data);
    const evaluated = new GELU().eval();
    evaluated.forward(x);
    expect(Array.from(evaluated.backward(dy).data)).toEqual(Array.from(expected));
  });
});

describe('Residual', () => {
  it('refuses a body that changes the shape', () => {
    const r = new Residual([new Conv2d(2, 3, 1)]);
    createParameters(r, { seed: 1 });
    expect(() => r.forward(randomInput([1, 2, 3, 3], 1))).toThrow(/body changes the shape \[1, 2, 3, 3\] -> \[1, 3, 3, 3\]/);
  });
});

it('createParameters gives an empty buffer arena to a network without BatchNorm', () => {
  const { buffers } = createParameters(new Sequential([new Linear(2, 2)]));
  expect(buffers).toBeInstanceOf(ParameterArena);
  expect(buffers.data.length).toBe(0);
});
