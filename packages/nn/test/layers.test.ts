import { createWasmBackend, referenceBackend, KernelBackend } from '@convoy/kernels';
import { ParameterArena, Rng, Tensor } from '@convoy/tensor';
import {
  AvgPool2d, buildModel, Conv2d, createParameters, Flatten, GlobalAvgPool2d, Linear, MaxPool2d, NO_INPUT_GRADIENT, NonFiniteInputError, recipeNet, ReLU,
  Sequential,
} from '../src';

function randomTensor(shape: number[], seed = 1): Tensor {
  const t = Tensor.zeros(shape);
  const rng = new Rng(seed);
  for (let i = 0; i < t.size; i++) t.data[i] = 2 * rng.uniform() - 1;
  return t;
}

describe('bad input gives clear errors', () => {
  const conv = new Conv2d(3, 4, 3, { padding: 1 });
  createParameters(conv, { seed: 1 });

  it('wrong input shape', () => {
    expect(() => conv.forward(Tensor.zeros([2, 1, 8, 8]))).toThrow(/^Conv2d: .*\[N, 3, H, W\].*\[2, 1, 8, 8\]$/);
    expect(() => conv.forward(Tensor.zeros([3, 8, 8]))).toThrow(/^Conv2d: .*\[N, 3, H, W\].*\[3, 8, 8\]$/);
    const model = recipeNet({ resolution: 32, classes: 10, width: 4 });
    createParameters(model, { seed: 1 });
    expect(() => model.forward(Tensor.zeros([1, 1, 32, 32]))).toThrow(/^Conv2d features\.0\.conv1: .*\[N, 3, H, W\].*\[1, 1, 32, 32\]$/);
    const linear = new Linear(8, 2);
    createParameters(linear, { seed: 1 });
    expect(() => linear.forward(Tensor.zeros([2, 2, 2, 2]))).toThrow(/^Linear: .*\[N, 8\].*\[2, 2, 2, 2\].*Flatten/);
    expect(() => new MaxPool2d(2).forward(Tensor.zeros([4, 4]))).toThrow(/^MaxPool2d: .*\[N, C, H, W\].*\[4, 4\]$/);
  });

  it('input too small for the kernel', () => {
    expect(() => conv.forward(Tensor.zeros([1, 3, 0, 4]))).toThrow(/^Conv2d: .*\[1, 3, 0, 4\]/);
    const big = new Conv2d(1, 1, 7);
    createParameters(big, { seed: 1 });
    expect(() => big.forward(Tensor.zeros([1, 1, 5, 5]))).toThrow(/^Conv2d: .*\[1, 1, 5, 5\].*kernel 7x7.*padding 0x0.*input 5x5/);
    expect(() => new MaxPool2d(3).forward(Tensor.zeros([1, 1, 2, 2]))).toThrow(/^MaxPool2d: .*\[1, 1, 2, 2\].*3x3/);
  });

  it('NaN or Infinity in the input names the layer and the element', () => {
    const x = Tensor.zeros([1, 3, 4, 4]);
    x.data[17] = NaN;
    expect(() => conv.forward(x)).toThrow(/^Conv2d: .*element 17\b.*\[1, 3, 4, 4\].*\bNaN\b/);
    expect(() => conv.forward(x)).toThrow(NonFiniteInputError);
    x.data[17] = Infinity;
    expect(() => conv.forward(x)).toThrow(/^Conv2d: .*element 17\b.*\bInfinity\b/);
    const model = recipeNet({ resolution: 8, classes: 2, width: 2 });
    createParameters(model, { seed: 1 });
    const y = Tensor.zeros([1, 3, 8, 8]);
    y.data[0] = NaN;
    expect(() => model.forward(y)).toThrow(/^Conv2d features\.0\.conv1: .*element 0\b.*\bNaN\b/);
  });

  it('unknown or invalid layer options', () => {
    expect(() => new Conv2d(3, 8, 3, { strides: 2 } as never)).toThrow(/^Conv2d: .*'strides'.*\bstride\b/);
    expect(() => new MaxPool2d(2, { dilation: 2 } as never)).toThrow(/^MaxPool2d: .*'dilation'.*\bstride, padding\b/);
    expect(() => new AvgPool2d(2, { ceilMode: true } as never)).toThrow(/^AvgPool2d: .*'ceilMode'/);
    expect(() => new Linear(2, 2, { bias: true, initialiser: 'x' } as never)).toThrow(/^Linear: .*'initialiser'.*\bbias\b/);
    expect(() => new ReLU({ inplace: true } as never)).toThrow(/^ReLU: .*'inplace'/);
    expect(() => new Conv2d(3, 8, 0)).toThrow(/^Conv2d: kernelSize .*got 0$/);
    expect(() => new Conv2d(3, 8, 3, { padding: -1 })).toThrow(/^Conv2d: padding .*got -1$/);
    expect(() => new Conv2d(3, 8, [3, 3, 3] as never)).toThrow(/kernelSize .*\[3,3,3\]$/);
    expect(() => new Conv2d(3, 8, 3, { bias: 'yes' } as never)).toThrow(/^Conv2d: bias .*"yes"$/);
    expect(() => new MaxPool2d(2, { padding: 2 })).toThrow(/^MaxPool2d: padding 2x2 .*half .*kernel 2x2/);
    expect(() => recipeNet({ resolution: 32, classes: 10, width: 32, depth: 3 } as never)).toThrow(/^recipeNet: .*'depth'/);
    expect(() => recipeNet({ resolution: 6, classes: 10, width: 32 })).toThrow(/^recipeNet: resolution .*\b8\b.*got 6$/);
    expect(() => buildModel({ kind: 'resnet' } as never)).toThrow(/^buildModel: .*"resnet".*'recipe'.*'layers'/);
  });

  it('misuse: unbound parameters, backward before forward, wrong gradient shape, mismatched arenas', () => {
    const fresh = new Conv2d(1, 1, 3);
    expect(() => fresh.forward(Tensor.zeros([1, 1, 3, 3]))).toThrow(/^Conv2d: .*not bound.*bind\(params, grads\)/);
    const relu = new ReLU();
    expect(() => relu.backward(Tensor.zeros([2]))).toThrow(/^ReLU: backward .*before forward/);
    relu.forward(Tensor.zeros([2, 3]));
    expect(() => relu.backward(Tensor.zeros([3, 2]))).toThrow(/^ReLU: gradOut .*\[2, 3\].*\[3, 2\]$/);
    const other = new ParameterArena([{ name: 'weight', shape: [1, 1, 2, 2] }, { name: 'bias', shape: [1] }]);
    expect(() => fresh.bind(other, other)).toThrow(/^weight: .*\[1, 1, 3, 3\].*\[1, 1, 2, 2\]$/);
    expect(() => fresh.bind(new ParameterArena([]), new ParameterArena([]))).toThrow(/'weight'.*\(none\)/);
  });
});

describe('forward values', () => {
  it('Conv2d: a hand-computed 2x2 example with bias', () => {
    const conv = new Conv2d(1, 1, 2);
    const { params } = createParameters(conv);
    params.set('weight', [1, 2, 3, 4]);
    params.set('bias', [0.5]);
    const y = conv.forward(Tensor.from([1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 1, 3, 3]));
    expect(y.shape).toEqual([1, 1, 2, 2]);
    expect(Array.from(y.data)).toEqual([37.5, 47.5, 67.5, 77.5]);
  });

  it('Linear: y = x W^T + b', () => {
    const fc = new Linear(3, 2);
    const { params } = createParameters(fc);
    params.set('weight', [1, 0, -1, 2, 1, 0]);
    params.set('bias', [1, -1]);
    expect(Array.from(fc.forward(Tensor.from([1, 2, 3], [1, 3])).data)).toEqual([-1, 3]);
  });

  it('MaxPool2d, AvgPool2d, GlobalAvgPool2d, ReLU, Flatten', () => {
    const x = Tensor.from([1, -2, 3, 4, 5, 6, -7, 8, 9, 10, 11, 12, 13, 14, 15, -16], [1, 1, 4, 4]);
    expect(Array.from(new MaxPool2d(2).forward(x).data)).toEqual([6, 8, 14, 15]);
    expect(Array.from(new AvgPool2d(2).forward(x).data)).toEqual([2.5, 2, 11.5, 5.5]);
    const gap = new GlobalAvgPool2d().forward(x);
    expect(gap.shape).toEqual([1, 1, 1, 1]);
    expect(gap.data[0]).toBeCloseTo(86 / 16, 6);
    expect(Array.from(new ReLU().forward(x).data.subarray(0, 4))).toEqual([1, 0, 3, 4]);
    const flat = new Flatten().forward(x);
    expect(flat.shape).toEqual([1, 16]);
    expect(flat.data).toBe(x.data);
  });

  it('parameter names follow the PyTorch state_dict of the recipe network', () => {
    const names = recipeNet({ resolution: 224, classes: 5, width: 8 }).parameterSpecs().map((s) => s.name);
    expect(names.slice(0, 4)).toEqual(['features.0.conv.weight', 'features.0.conv.bias', 'features.1.conv1.weight', 'features.1.conv1.bias']);
    expect(names.slice(-2)).toEqual(['classifier.weight', 'classifier.bias']);
  });
});

describe('buffers and batch sizes', () => {
  it('handles a changing batch size, reusing its buffers while the batch does not grow', () => {
    const model = recipeNet({ resolution: 8, classes: 3, width: 2 });
    const { grads } = createParameters(model, { seed: 3 });
    const x4 = randomTensor([4, 3, 8, 8]);
    const y4 = model.forward(x4);
    const full = y4.data.slice();
    const buffer = y4.data.buffer;
    model.backward(Tensor.full(y4.shape, 1));
    const gradsFull = grads.data.slice();

    // the last partial batch: same results per sample, same storage
    const x2 = Tensor.from(x4.data.slice(0, 2 * 3 * 64), [2, 3, 8, 8]);
    const y2 = model.forward(x2);
    expect(y2.shape).toEqual([2, 3]);
    expect(y2.data.buffer).toBe(buffer);
    expect(Array.from(y2.data)).toEqual(Array.from(full.subarray(0, 6)));
    model.backward(Tensor.full(y2.shape, 1));
    expect(grads.data).not.toEqual(gradsFull); // overwritten by the 2-sample gradient, not accumulated

    // back to 4: the same storage again, and the same answer
    const again = model.forward(x4);
    expect(again.data.buffer).toBe(buffer);
    expect(Array.from(again.data)).toEqual(Array.from(full));
    model.backward(Tensor.full(again.shape, 1));
    expect(Array.from(grads.data)).toEqual(Array.from(gradsFull));
  });

  it('returns the same output tensor object in steady state (no per-step allocation)', () => {
    const conv = new Conv2d(2, 2, 3, { padding: 1 });
    createParameters(conv, { seed: 1 });
    const x = randomTensor([2, 2, 5, 5]);
    const a = conv.forward(x);
    const ga = conv.backward(a);
    const b = conv.forward(x);
    expect(b).toBe(a);
    expect(conv.backward(b)).toBe(ga);
    const model = recipeNet({ resolution: 8, classes: 2, width: 2 });
    createParameters(model, { seed: 1 });
    const xs = randomTensor([2, 3, 8, 8]);
    const y1 = model.forward(xs);
    const g1 = model.backward(Tensor.full(y1.shape, 1));
    const g = Tensor.full(y1.shape, 1);
    const y2 = model.forward(xs);
    expect(y2).toBe(y1);
    expect(model.backward(g)).toBe(g1);
  });

  it('backward overwrites parameter gradients instead of accumulating', () => {
    const fc = new Linear(3, 2);
    const { grads } = createParameters(fc, { seed: 1 });
    const x = randomTensor([2, 3]);
    fc.forward(x);
    fc.backward(Tensor.full([2, 2], 1));
    const first = grads.data.slice();
    fc.forward(x);
    fc.backward(Tensor.full([2, 2], 1));
    expect(Array.from(grads.data)).toEqual(Array.from(first));
  });
});

describe('backends and shared memory', () => {
  it('every conv and pooling call goes through the given KernelBackend', () => {
    const calls: string[] = [];
    const spy = Object.fromEntries(
      Object.entries(referenceBackend).map(([k, v]) => [k, typeof v === 'function' ? (...a: unknown[]) => (calls.push(k), (v as (...b: unknown[]) => unknown)(...a)) : v]),
    ) as unknown as KernelBackend;
    const model = buildModel({ kind: 'recipe', resolution: 8, classes: 2, width: 2 }, { backend: spy });
    createParameters(model, { seed: 1 });
    const y = model.forward(randomTensor([1, 3, 8, 8]));
    model.backward(Tensor.full(y.shape, 1));
    expect(calls).toEqual([
      'conv2d', 'conv2d', 'maxPool2d', 'globalAvgPool',
      'globalAvgPoolBackward', 'maxPool2dBackward',
      'conv2dBackwardWeights', 'conv2dBackwardInput', 'conv2dBackwardWeights', 'conv2dBackwardInput',
    ]);
  });

  it('inputGradient: false skips the first conv\'s input-gradient pass and nothing else; parameter gradients are unchanged', () => {
    for (const resolution of [8, 100]) {
      const spec = { kind: 'recipe', resolution, classes: 2, width: 2 } as const;
      const calls: string[] = [];
      const spy = Object.fromEntries(
        Object.entries(referenceBackend).map(([k, v]) => [k, typeof v === 'function' ? (...a: unknown[]) => (calls.push(k), (v as (...b: unknown[]) => unknown)(...a)) : v]),
      ) as unknown as KernelBackend;
      const full = buildModel(spec);
      const skipping = buildModel(spec, { backend: spy, inputGradient: false });
      const a = createParameters(full, { seed: 4 });
      const b = createParameters(skipping, { seed: 4 });
      const x = randomTensor([2, 3, resolution, resolution], 5);
      const gy = randomTensor([2, 2], 6);
      full.forward(x);
      expect(full.backward(gy).shape).toEqual([2, 3, resolution, resolution]);
      skipping.forward(x);
      expect(skipping.backward(gy)).toBe(NO_INPUT_GRADIENT);
      expect(NO_INPUT_GRADIENT.shape).toEqual([0]);
      expect(Array.from(b.grads.data)).toEqual(Array.from(a.grads.data));
      const convs = (skipping.parameterSpecs().filter((p) => p.shape.length === 4)).length;
      expect(calls.filter((c) => c === 'conv2dBackwardWeights')).toHaveLength(convs);
      expect(calls.filter((c) => c === 'conv2dBackwardInput')).toHaveLength(convs - 1);
    }
    expect(() => new Conv2d(1, 1, 1, { inputGradient: 'no' as never })).toThrow(/^Conv2d: inputGradient .*"no"$/);
  });

  it('two models bound to one shared arena see the same parameters; gradients go to their own slots', () => {
    const spec = { kind: 'recipe' as const, resolution: 8, classes: 2, width: 2 };
    const a = buildModel(spec);
    const { params } = createParameters(a, { seed: 5, shared: true });
    expect(params.isShared).toBe(true);
    const specs = params.specs();
    const slotBuffer = new SharedArrayBuffer(2 * params.size * 4);
    const slots = [0, 1].map((k) => new ParameterArena(specs, { buffer: slotBuffer, byteOffset: k * params.size * 4 }));
    const b = buildModel(spec);
    const sameParams = new ParameterArena(specs, { buffer: params.buffer });
    a.bind(params, slots[0]);
    b.bind(sameParams, slots[1]);
    const x = randomTensor([2, 3, 8, 8]);
    const ya = a.forward(x).data.slice();
    const yb = b.forward(x).data.slice();
    expect(Array.from(yb)).toEqual(Array.from(ya));
    b.backward(Tensor.full([2, 2], 1));
    expect(slots[0].data.every((v) => v === 0)).toBe(true);
    expect(slots[1].data.some((v) => v !== 0)).toBe(true);
  });
});

describe('fused ReLU (Sequential fuseReLU)', () => {
  const wasm = createWasmBackend();
  const build = (backend: KernelBackend, fuseReLU: boolean) => new Sequential({
    conv1: new Conv2d(3, 8, 3, { padding: 1, backend }),
    relu1: new ReLU(),
    conv2: new Conv2d(8, 8, 3, { padding: 1, backend }),
    relu2: new ReLU(),
    pool: new MaxPool2d(2, { backend }),
    relu3: new ReLU(),
    flatten: new Flatten(),
    fc: new Linear(8 * 3 * 3, 4),
    relu4: new ReLU(),
  }, { fuseReLU });

  it.each([['reference', referenceBackend], ['wasm', wasm]] as const)('gives bit-identical outputs and gradients to the unfused layers (%s)', (_name, backend) => {
    const plain = build(backend, false);
    const fused = build(backend, true);
    const a = createParameters(plain, { seed: 7 });
    const b = createParameters(fused, { seed: 7 });
    const x = randomTensor([3, 3, 7, 7], 8);
    const ya = plain.forward(x).data.slice();
    const yb = fused.forward(x).data.slice();
    expect(Array.from(yb)).toEqual(Array.from(ya));
    const gy = randomTensor([3, 4], 9);
    const gxa = plain.backward(gy).data.slice();
    const gxb = fused.backward(gy).data.slice();
    expect(Array.from(gxb)).toEqual(Array.from(gxa));
    expect(Array.from(b.grads.data)).toEqual(Array.from(a.grads.data));
    // relu1 (conv -> relu -> conv) and relu2 (conv -> relu -> pool) pass through; relu3 (after a
    // pool) and relu4 (after a linear, at the end) still compute.
    const relu = (key: string) => fused.child(key);
    expect(relu('relu1').forward(x)).toBe(x);
    expect(relu('relu2').forward(x)).toBe(x);
    expect(relu('relu3').forward(x)).not.toBe(x);
    expect(relu('relu4').forward(x)).not.toBe(x);
  });
});

describe('Sequential', () => {
  it('names children by index or key and rejects non-modules', () => {
    const s = new Sequential({ body: new Sequential([new Linear(2, 2)]), head: new Linear(2, 1) });
    expect(s.parameterSpecs().map((p) => p.name)).toEqual(['body.0.weight', 'body.0.bias', 'head.weight', 'head.bias']);
    expect(s.child('head')).toBeInstanceOf(Linear);
    expect(() => s.child('tail')).toThrow(/^Sequential: .*'tail'.*\bbody, head$/);
    expect(() => new Sequential([{} as never])).toThrow(/^Sequential: child '0' .*Module.*\[object Object\]/);
  });
});

describe('ReLU on the float bits', () => {
  it('matches max(0, x) bit for bit on zeros, infinities, denormals and extremes, and lets NaN through', () => {
    const values = [-0, 0, -Infinity, Infinity, -1e-45, 1e-45, 3.4e38, -3.4e38, -1.5, 2.25, NaN];
    const x = Tensor.from(Float32Array.from(values), [1, values.length]);
    const y = new ReLU().forward(x);
    const expected = values.map((v) => (Number.isNaN(v) ? NaN : v > 0 ? Math.fround(v) : 0));
    // Object.is tells +0 from -0, which toEqual on numbers does too: negative inputs give +0.
    Array.from(y.data).forEach((got, i) => expect(Object.is(got, expected[i])).toBe(true));
  });

  it('passes the gradient exactly where the output is positive, +0 elsewhere', () => {
    const relu = new ReLU();
    const x = Tensor.from(Float32Array.from([-2, 0, -0, 3, 1e-45, -Infinity]), [1, 6]);
    relu.forward(x);
    const gradIn = relu.backward(Tensor.from(Float32Array.from([-5, 6, -7, -8, 9, 10]), [1, 6]));
    const expected = [0, 0, 0, -8, 9, 0];
    Array.from(gradIn.data).forEach((got, i) => expect(Object.is(got, expected[i])).toBe(true));
  });

  it('works on views that do not start at the beginning of their buffer', () => {
    const storage = Float32Array.from([9, 9, -1, 4, -3, 9]);
    const x = new Tensor(storage.subarray(2, 5), [1, 3]);
    expect(Array.from(new ReLU().forward(x).data)).toEqual([0, 4, 0]);
    expect(Array.from(storage)).toEqual([9, 9, -1, 4, -3, 9]);
  });
});
