import { referenceBackend } from '@convoy/kernels';
import { Rng, Tensor } from '@convoy/tensor';
import {
  buildLayerList, buildModel, checkModelFile, checkModelInput, createParameters, formatModelSummary, Module, ModelFileError, recipeModelFile, recipeParameterNames, recipePlan, SGD, softmaxCrossEntropy,
} from '../src';

const net = (layers: unknown[], input: unknown = { channels: 3, resolution: 8 }) => ({ input, layers });
const head = [{ type: 'globalavgpool2d' }, { type: 'flatten' }, { type: 'linear', out: 'classes' }];

/** The ModelFileError `json` raises, for matching its path and message. */
function failure(json: unknown, classes = 10): ModelFileError {
  try {
    checkModelFile(json, classes);
  } catch (error) {
    if (error instanceof ModelFileError) return error;
    throw error;
  }
  throw new Error('the model file was accepted');
}

describe('checkModelFile', () => {
  it('fills in PyTorch defaults and keeps "classes" symbolic', () => {
    const { spec } = checkModelFile(net([{ type: 'conv2d', out: 4, kernel: 3 }, { type: 'batchnorm2d' }, { type: 'maxpool2d', kernel: 2 }, { type: 'dropout' }, ...head]), 10);
    expect(spec.layers.slice(0, 4)).toEqual([
      { type: 'conv2d', out: 4, kernel: 3, stride: 1, padding: 0, bias: true },
      { type: 'batchnorm2d', eps: 1e-5, momentum: 0.1, affine: true, groupSize: 32 },
      { type: 'maxpool2d', kernel: 2, stride: 2, padding: 0 },
      { type: 'dropout', p: 0.5 },
    ]);
    expect(spec.layers.at(-1)).toEqual({ type: 'linear', out: 'classes', bias: true });
    // The filled-in file checks again to itself (what a checkpoint stores and reloads).
    expect(checkModelFile(spec, 10).spec).toEqual(spec);
  });

  it.each([
    ['not an object', [], 'model file', /JSON object.*"input".*"layers".*\barray$/],
    ['an unknown top-level field', { ...net(head), name: 'x' }, 'model file', /"name".*\binput, layers, description$/],
    ['no input', { layers: head }, 'input', /"channels".*"resolution".*\bnothing$/],
    ['a fractional channel count', net(head, { channels: 2.5, resolution: 8 }), 'input.channels', /integer >= 1.*\b2\.5$/],
    ['no layers', net([]), 'layers', /non-empty array.*\[\]$/],
    ['an unknown type', net([{ type: 'conv3d', out: 4, kernel: 3 }, ...head]), 'layers[0]', /"conv3d".*\bconv2d, batchnorm2d\b/],
    ['an unknown field', net([{ type: 'conv2d', out: 4, kernel: 3, dilation: 2 }, ...head]), 'layers[0]', /conv2d\b.*"dilation".*\bout, kernel, stride, padding, bias, init, frozen$/],
    ['a field on a layer that takes none', net([{ type: 'relu', inplace: true }, ...head]), 'layers[0]', /relu\b.*"inplace".*\bno fields\b/],
    ['a missing field', net([{ type: 'conv2d', kernel: 3 }, ...head]), 'layers[0]', /conv2d\b.*"out"/],
    ['a wrong kind', net([{ type: 'conv2d', out: 4, kernel: 3, bias: 'no' }, ...head]), 'layers[0]', /conv2d's "bias".*\btrue or false\b.*"no"$/],
    ['dropout p of 1', net([{ type: 'dropout', p: 1 }, ...head]), 'layers[0]', /dropout's "p".*\[0, 1\).*\b1$/],
    ['a pool that shrinks a side below 1', net([{ type: 'maxpool2d', kernel: 4 }, { type: 'maxpool2d', kernel: 4 }, ...head]), 'layers[1]', /maxpool2d \(kernel 4, stride 4, padding 0\).*\[3, 2, 2\].*\bsmaller kernel or stride\b/],
    ['pool padding over half the kernel', net([{ type: 'avgpool2d', kernel: 2, padding: 2 }, ...head]), 'layers[0]', /avgpool2d's "padding" 2\b.*\bkernel 2\b/],
    ['a linear layer before a flatten', net([{ type: 'linear', out: 10 }]), 'layers[0]', /linear\b.*\[3, 8, 8\].*\{ "type": "flatten" \}/],
    ['a conv after a flatten', net([{ type: 'flatten' }, { type: 'conv2d', out: 4, kernel: 1 }, ...head]), 'layers[1]', /conv2d\b.*\[channels, height, width\].*\[192\]/],
    ['a residual body that changes the shape', net([{ type: 'residual', layers: [{ type: 'conv2d', out: 8, kernel: 3, padding: 1 }] }, ...head]), 'layers[0]', /residual\b.*\[3, 8, 8\].*\[8, 8, 8\]$/],
    ['an error inside a residual', net([{ type: 'residual', layers: [{ type: 'relu' }, { type: 'conv2d', out: 3 }] }, ...head]), 'layers[0].layers[1]', /conv2d\b.*"kernel"/],
    ['an unknown field in input', net(head, { channels: 3, resolution: 8, size: 8 }), 'input', /"size".*\bchannels, resolution$/],
    ['a layer that is not an object', net(['relu', ...head]), 'layers[0]', /\bobject\b.*"type".*"relu"$/],
    ['a layer without a type', net([{ out: 3 }, ...head]), 'layers[0]', /\bundefined\b.*\bconv2d, batchnorm2d\b/],
    ['a fractional out', net([{ type: 'conv2d', out: 2.5, kernel: 3 }, ...head]), 'layers[0]', /conv2d's "out".*>= 1.*\b2\.5$/],
    ['a negative padding', net([{ type: 'conv2d', out: 4, kernel: 3, padding: -1 }, ...head]), 'layers[0]', /conv2d's "padding".*>= 0.*\[height, width\].*-1$/],
    ['a BatchNorm momentum over 1', net([{ type: 'batchnorm2d', momentum: 1.5 }, ...head]), 'layers[0]', /batchnorm2d's "momentum".*\[0, 1\].*\b1\.5$/],
    ['a BatchNorm eps of 0', net([{ type: 'batchnorm2d', eps: 0 }, ...head]), 'layers[0]', /batchnorm2d's "eps".*> 0.*\b0$/],
    ['a ghost group of 0 images', net([{ type: 'batchnorm2d', groupSize: 0 }, ...head]), 'layers[0]', /batchnorm2d's "groupSize".*>= 1.*\b0$/],
    ['a scale without its factor', net([{ type: 'scale' }, ...head]), 'layers[0]', /scale\b.*"by"/],
    ['a linear out that is neither a count nor "classes"', net([{ type: 'flatten' }, { type: 'linear', out: 'labels' }]), 'layers[1]', /linear's "out".*"classes".*"labels"$/],
    ['an empty residual body', net([{ type: 'residual', layers: [] }, ...head]), 'layers[0].layers', /non-empty array.*\[\]$/],
    ['a BatchNorm after a flatten', net([{ type: 'flatten' }, { type: 'batchnorm2d' }, ...head]), 'layers[1]', /batchnorm2d\b.*\[channels, height, width\].*\[192\]/],
    ['a conv bigger than its input, inside a residual', net([{ type: 'residual', layers: [{ type: 'conv2d', out: 3, kernel: 9 }] }, ...head]), 'layers[0].layers[0]', /conv2d \(kernel 9, stride 1, padding 0\).*\[3, 8, 8\].*\bsmaller kernel or stride\b/],
    ['an end that is not the class scores', net([{ type: 'globalavgpool2d' }, { type: 'flatten' }, { type: 'linear', out: 7 }]), 'layers', /\[7\].*\b10 class\b.*"out": "classes"/],
  ])('refuses %s, naming the path', (_what, json, path, message) => {
    const error = failure(json);
    expect(error.path).toBe(path);
    expect(error.message.startsWith(`${path}: `)).toBe(true);
    expect(error.message).toMatch(message);
  });

  it('is what buildModel and buildLayerList check a layer list with, and builds from', () => {
    expect(() => buildModel({ kind: 'layers', classes: 10, ...net([{ type: 'linear', out: 10 }]) } as never)).toThrow(ModelFileError);
    expect(() => buildLayerList(net([{ type: 'residual', layers: [{ type: 'conv2d', out: 4, kernel: 1 }] }, ...head]) as never, 10)).toThrow(/^layers\[0\]: .*residual\b.*\[3, 8, 8\].*\[4, 8, 8\]$/);
    // Built from the checked entries: defaults filled (a pool's stride is its kernel), channels and features from the inferred shapes.
    const model = buildLayerList(net([{ type: 'conv2d', out: 4, kernel: 3 }, { type: 'maxpool2d', kernel: 3 }, { type: 'flatten' }, { type: 'linear', out: 'classes' }]) as never, 10);
    expect(model.parameterSpecs()).toEqual([
      { name: 'layers.0.weight', shape: [4, 3, 3, 3] }, { name: 'layers.0.bias', shape: [4] },
      { name: 'layers.3.weight', shape: [10, 16] }, { name: 'layers.3.bias', shape: [10] },
    ]);
  });

  it('takes a kernel, stride or padding as [height, width], as PyTorch does', () => {
    const checked = checkModelFile(net([
      { type: 'conv2d', out: 4, kernel: [1, 3], padding: [0, 1] },
      { type: 'maxpool2d', kernel: [2, 1] },
      { type: 'avgpool2d', kernel: 3, stride: [1, 2], padding: [1, 0] },
      ...head,
    ]), 10);
    expect(checked.spec.layers.slice(0, 2)).toEqual([
      { type: 'conv2d', out: 4, kernel: [1, 3], stride: 1, padding: [0, 1], bias: true },
      { type: 'maxpool2d', kernel: [2, 1], stride: [2, 1], padding: 0 },
    ]);
    expect(checked.rows.slice(0, 3).map((r) => r.outShape)).toEqual([[4, 8, 8], [4, 4, 8], [4, 4, 3]]);
    expect(checked.rows[0]).toMatchObject({ parameters: 4 * 3 * 3 + 4, multiplyAdds: 4 * 8 * 8 * 3 * 3 });
    const model = buildModel({ kind: 'layers', classes: 10, ...checked.spec });
    createParameters(model, { seed: 1 });
    expect(model.forward(Tensor.zeros([2, 3, 8, 8])).shape).toEqual([2, 10]);
    expect(failure(net([{ type: 'conv2d', out: 4, kernel: [3, 3, 3] }, ...head])).message).toMatch(/^layers\[0\]: conv2d's "kernel".*\[height, width\].*\[3,3,3\]$/);
    expect(failure(net([{ type: 'maxpool2d', kernel: [2, 2], padding: [0, 2] }, ...head])).message).toMatch(/^layers\[0\]: maxpool2d's "padding" 0x2\b.*\bkernel 2x2\b/);
    expect(failure(net([{ type: 'conv2d', out: 4, kernel: [1, 9] }, ...head])).message).toMatch(/^layers\[0\]: conv2d \(kernel 1x9, stride 1, padding 0\).*\[3, 8, 8\]/);
  });

  it('checks the data against the input', () => {
    const { spec } = checkModelFile(net(head, { channels: 1, resolution: 28 }), 10);
    expect(() => checkModelInput(spec, { channels: 1, resolution: 28 }, 'folder x')).not.toThrow();
    expect(() => checkModelInput(spec, { channels: 3, resolution: 28 }, 'CIFAR-10')).toThrow(/input.channels: .*1-channel.*CIFAR-10 has 3 channels/);
    expect(() => checkModelInput(spec, { channels: 1, resolution: 32 }, 'folder x')).toThrow(/input.resolution: .*28 x 28.*32 x 32.*--resolution 28/);
  });
});

describe('the layer table', () => {
  it.each([32, 224])('counts the recipe network at R=%i as recipePlan does', (resolution) => {
    const checked = checkModelFile(recipeModelFile({ resolution, width: 32 }), 10);
    const model = buildModel({ kind: 'recipe', resolution, classes: 10, width: 32 });
    const parameters = model.parameterSpecs().reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0);
    expect(checked.parameters).toBe(parameters);
    expect(checked.multiplyAdds).toBe(recipePlan({ resolution, width: 32, classes: 10 }).multiplyAdds);
    if (resolution === 32) expect(parameters).toBe(288_298);
  });

  it('prints a row per layer, residual bodies indented, and the totals', () => {
    const checked = checkModelFile(net([
      { type: 'conv2d', out: 4, kernel: 3, padding: 1, bias: false },
      { type: 'residual', layers: [{ type: 'conv2d', out: 4, kernel: 3, padding: 1 }, { type: 'relu' }] },
      ...head,
    ]), 10);
    const text = formatModelSummary(checked, 10);
    expect(text).toMatch(/^input \[3, 8, 8\], 10 classes$/m);
    expect(text).toMatch(/^layers\[0\]\s+conv2d\s+\[4, 8, 8\]\s+108\s+6,912$/m);
    expect(text).toMatch(/^layers\[1\]\s+residual\s+\[4, 8, 8\]\s+\(148\)\s+\(9,216\)$/m);
    expect(text).toMatch(/^ {2}layers\[1\]\.layers\[0\]\s+conv2d\s+\[4, 8, 8\]\s+148\s+9,216$/m);
    expect(text).toMatch(/^layers\[4\]\s+linear\s+\[10\]\s+50\s+40$/m);
    expect(text).toMatch(/^total: 306 parameters, 16,168 multiply-adds per image \(forward\)$/m);
  });
});

describe('the recipe preset', () => {
  /** Parameters after `steps` SGD steps on random images from the same seed. */
  function train(model: Module, steps: number, resolution: number): Float32Array {
    const { params, grads } = createParameters(model, { seed: 5 });
    const sgd = new SGD({ size: params.size, momentum: 0.9, weightDecay: 5e-4 });
    const rng = new Rng(9);
    for (let step = 1; step <= steps; step++) {
      const x = Tensor.zeros([4, 3, resolution, resolution]);
      for (let i = 0; i < x.size; i++) x.data[i] = 2 * rng.uniform() - 1;
      const y = Int32Array.from({ length: 4 }, () => rng.int(10));
      grads.data.fill(0);
      const { gradLogits } = softmaxCrossEntropy(model.forward(x), y);
      model.backward(gradLogits);
      sgd.step({ params, grads, lr: 0.05, step });
    }
    return params.data.slice();
  }

  it.each([[16, 4], [112, 2]])('trains to recipeNet\'s parameters bit for bit (R=%i, width %i), under the mapped names', (resolution, width) => {
    const recipe = buildModel({ kind: 'recipe', resolution, classes: 10, width }, { backend: referenceBackend });
    const preset = buildModel({ kind: 'layers', classes: 10, ...recipeModelFile({ resolution, width }) }, { backend: referenceBackend });
    const names = recipeParameterNames({ resolution, width });
    expect(recipe.parameterSpecs().map((s) => s.name)).toEqual(names.map((n) => n.recipe));
    expect(preset.parameterSpecs().map((s) => s.name)).toEqual(names.map((n) => n.layers));
    expect(preset.parameterSpecs().map((s) => s.shape)).toEqual(recipe.parameterSpecs().map((s) => s.shape));
    expect(train(preset, 3, resolution)).toEqual(train(recipe, 3, resolution));
  });

  it('has a BatchNorm variant: conv without bias, batchnorm2d, relu', () => {
    const { layers } = recipeModelFile({ resolution: 32, width: 8, batchNorm: true });
    expect(layers.slice(0, 3)).toEqual([{ type: 'conv2d', out: 8, kernel: 3, padding: 1, bias: false }, { type: 'batchnorm2d' }, { type: 'relu' }]);
    expect(checkModelFile({ input: { channels: 3, resolution: 32 }, layers }, 10).rows.filter((r) => r.type === 'batchnorm2d')).toHaveLength(6);
  });
});

describe('init, frozen and a BatchNorm without a weight', () => {
  const airbenchLike = () => net([
    { type: 'conv2d', out: 24, kernel: 2, init: 'whitening', frozen: ['weight'] },
    { type: 'gelu' },
    { type: 'conv2d', out: 8, kernel: 3, padding: 1, bias: false, init: 'identity' },
    { type: 'batchnorm2d', weight: false, momentum: 0.4, eps: 1e-12 },
    { type: 'gelu' },
    { type: 'globalmaxpool2d' }, { type: 'flatten' },
    { type: 'linear', out: 'classes', bias: false, frozen: true },
    { type: 'scale', by: 1 / 9 },
  ]);

  it('keeps the new fields as written and leaves them out where they were left out', () => {
    const { spec } = checkModelFile(airbenchLike(), 10);
    expect(spec.layers[0]).toEqual({ type: 'conv2d', out: 24, kernel: 2, stride: 1, padding: 0, bias: true, init: 'whitening', frozen: ['weight'] });
    expect(spec.layers[3]).toEqual({ type: 'batchnorm2d', eps: 1e-12, momentum: 0.4, affine: true, groupSize: 32, weight: false });
    expect(checkModelFile(net([{ type: 'conv2d', out: 4, kernel: 3 }, ...head]), 10).spec.layers[0]).toEqual({ type: 'conv2d', out: 4, kernel: 3, stride: 1, padding: 0, bias: true });
  });

  it('counts frozen parameters beside the total, per layer and in the summary', () => {
    const checked = checkModelFile(airbenchLike(), 10);
    expect(checked.rows.map((r) => [r.parameters, r.frozen])).toEqual([[312, 288], [0, 0], [1728, 0], [8, 0], [0, 0], [0, 0], [0, 0], [80, 80], [0, 0]]);
    expect(checked.parameters).toBe(312 + 1728 + 8 + 80);
    expect(checked.frozen).toBe(368);
    const text = formatModelSummary(checked, 10);
    expect(text).toMatch(/^layers\[0\]\s+conv2d\s+\[24, 7, 7\]\s+312, 288 frozen\s+14,112$/m);
    expect(text).toMatch(/^total: 2,128 parameters \(1,760 trainable, 368 frozen\), /m);
    const model = buildLayerList(airbenchLike() as never, 10);
    expect(model.parameterSpecs().map((s) => s.name)).toEqual(['layers.0.weight', 'layers.0.bias', 'layers.2.weight', 'layers.3.bias', 'layers.7.weight']);
    expect(model.frozenParameters()).toEqual(['layers.0.weight', 'layers.7.weight']);
  });

  it.each([
    [[{ type: 'conv2d', out: 4, kernel: 3, init: 'eye' }], 'layers[0]', 'conv2d\'s "init" must be one of "default", "identity", "whitening", got "eye"'],
    [[{ type: 'conv2d', out: 4, kernel: 3, frozen: ['bias'], bias: false }], 'layers[0]', 'conv2d\'s "frozen" names "bias", which this layer does not have; its parameters are "weight"'],
    [[{ type: 'conv2d', out: 4, kernel: 3, frozen: ['scale'] }], 'layers[0]', 'conv2d\'s "frozen" must be true, false or a non-empty array'],
    [[{ type: 'conv2d', out: 12, kernel: 2, init: 'whitening' }], 'layers[0]', 'makes 2 x 3 x 2 x 2 = 24 filters (each patch eigenvector and its negative): set "out": 24'],
    [[{ type: 'relu' }, { type: 'conv2d', out: 24, kernel: 2, init: 'whitening' }], 'layers[1]', 'only the network\'s first layer (layers[0]) can take it'],
    [[{ type: 'batchnorm2d', affine: false, weight: false }], 'layers[0]', '"weight": false keeps the bias without the scale, but "affine": false has neither'],
    [[{ type: 'batchnorm2d', affine: false, frozen: true }], 'layers[0]', 'batchnorm2d has no parameters to freeze here'],
    [[{ type: 'batchnorm2d', weight: false, frozen: ['weight'] }], 'layers[0]', 'batchnorm2d\'s "frozen" names "weight", which this layer does not have; its parameters are "bias"'],
    [[{ type: 'relu', frozen: true }], 'layers[0]', 'relu has an unknown field "frozen"'],
  ])('refuses %j', (layers, path, message) => {
    const error = failure(net([...layers, ...head]));
    expect(error.path).toBe(path);
    expect(error.message).toContain(message);
  });

  it('refuses linear "init": "whitening" (a conv only)', () => {
    expect(failure(net([{ type: 'flatten' }, { type: 'linear', out: 'classes', init: 'whitening' }])).message).toContain('linear\'s "init" must be one of "default", "identity"');
  });

  it('starts identity layers as dirac_ / eye_ on the first min(out, in) outputs, the rest drawn, bias 0', () => {
    const model = buildLayerList(net([
      { type: 'conv2d', out: 5, kernel: 3, padding: 1, init: 'identity' }, { type: 'conv2d', out: 2, kernel: 2, init: 'identity' },
      { type: 'flatten' }, { type: 'linear', out: 3, init: 'identity' }, { type: 'linear', out: 'classes' },
    ]) as never, 10);
    const { params } = createParameters(model, { seed: 3 });
    const w0 = params.tensor('layers.0.weight');
    for (let o = 0; o < 3; o++) {
      for (let i = 0; i < 3; i++) for (let k = 0; k < 9; k++) expect(w0.data[(o * 3 + i) * 9 + k]).toBe(o === i && k === 4 ? 1 : 0);
    }
    expect(Array.from(w0.data.subarray(81)).every((v) => v !== 0 && Math.abs(v) <= 1 / Math.sqrt(27))).toBe(true);
    expect(Array.from(params.tensor('layers.0.bias').data)).toEqual([0, 0, 0, 0, 0]);
    const w1 = params.tensor('layers.1.weight').data; // 2 x 5 x 2 x 2: the one at index [1, 1] of the kernel
    expect(Array.from(w1)).toEqual(Array.from({ length: 40 }, (_, j) => (j === 0 * 20 + 0 * 4 + 3 || j === 1 * 20 + 1 * 4 + 3 ? 1 : 0)));
    const w3 = params.tensor('layers.3.weight'); // 3 x 98
    for (let o = 0; o < 3; o++) for (let i = 0; i < 98; i++) expect(w3.data[o * 98 + i]).toBe(o === i ? 1 : 0);
  });
});
