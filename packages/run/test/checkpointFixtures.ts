import { CIFAR10_NORMALIZATION } from '@convoy/data';
import { buildModel, createParameters, modelInputOf, type LayerModelSpec, type ModelSpec, type RecipeModelSpec } from '@convoy/nn';
import type { CheckpointState } from '../src/checkpoint';

/** A tiny recipe network (8x8 input, width 2, two classes: 100 parameters). */
export const TINY_SPEC: RecipeModelSpec = { kind: 'recipe', resolution: 8, classes: 2, width: 2 };

/**
 * A tiny layer list with BatchNorm (its buffers: running_mean, running_var, num_batches_tracked at
 * layers.1) and dropout, 8x8 input, two classes.
 */
export const TINY_LAYERS_SPEC: LayerModelSpec = {
  kind: 'layers',
  classes: 2,
  input: { channels: 3, resolution: 8 },
  layers: [
    { type: 'conv2d', out: 4, kernel: 3, padding: 1, bias: false },
    { type: 'batchnorm2d', groupSize: 4 },
    { type: 'relu' },
    { type: 'dropout', p: 0.2 },
    { type: 'globalavgpool2d' },
    { type: 'flatten' },
    { type: 'linear', out: 'classes' },
  ],
};

/** A consistent checkpoint of TINY_SPEC (or `spec`), parameters initialised from a seed, buffers as after some training; SGD state. */
export function validCheckpoint(spec: ModelSpec = TINY_SPEC, classNames = ['cat', 'dog']): CheckpointState {
  const model = buildModel(spec);
  const { params } = createParameters(model, { seed: 3 });
  let offset = 0;
  const bufferEntries = model.bufferSpecs().map((b) => {
    const size = b.shape.reduce((a, d) => a * d, 1);
    const entry = { name: b.name, shape: b.shape.slice(), offset, size };
    offset += size;
    return entry;
  });
  const bufferValues = Float32Array.from({ length: offset }, (_, i) => 1 + i / 8);
  return {
    config: { epochs: 3, lr: 0.05, batchSize: 16, ...(spec.kind === 'recipe' ? { width: spec.width } : {}), optimizer: 'sgd' },
    modelSpec: spec,
    classNames,
    resolution: modelInputOf(spec).resolution,
    normalization: { mean: [...CIFAR10_NORMALIZATION.mean], std: [...CIFAR10_NORMALIZATION.std] },
    parameters: params.entries.map((e) => ({ name: e.name, shape: e.shape.slice(), offset: e.offset, size: e.size })),
    params: params.data.slice(),
    buffers: { entries: bufferEntries, data: bufferValues },
    optimizer: { name: 'sgd', state: { momentumBuffer: params.data.map((v) => v / 10) } },
    step: 2,
    epoch: 1,
    stepInEpoch: 0,
    rng: { seed: 1, state: [1, 2, 3, 4] },
    summary: {},
    createdAt: '2026-01-01T00:00:00.000Z',
  };
}

/**
 * Every way a checkpoint can disagree with itself, each as a change to a valid one and the words
 * the refusal must contain. Commands that read checkpoints are tested against all of them.
 */
export const SELF_CONTRADICTIONS: Array<{ kind: string; change: (s: CheckpointState) => void; message: RegExp; base?: 'layers' }> = [
  {
    kind: 'a table entry with another name',
    change: (s) => (s.parameters[1].name = 'features.0.conv1.bogus'),
    message: /parameter table entry 1 is 'features\.0\.conv1\.bogus' .*; the network has 'features\.0\.conv1\.bias'/,
  },
  {
    kind: 'a table entry with another shape (same size)',
    change: (s) => (s.parameters[0].shape = [2, 3, 9, 1]),
    message: /entry 0 is 'features\.0\.conv1\.weight' shape \[2, 3, 9, 1\].*the network has 'features\.0\.conv1\.weight' shape \[2, 3, 3, 3\]/,
  },
  {
    kind: 'a table entry at another offset',
    change: (s) => (s.parameters[2].offset += 1),
    message: /entry 2 is 'features\.0\.conv2\.weight' shape \[2, 2, 3, 3\] at offset 57,.*the network has .* at offset 56/,
  },
  {
    kind: 'a table entry of another size',
    change: (s) => (s.parameters[3].size = 2 ** 40),
    message: /entry 3 is 'features\.0\.conv2\.bias' shape \[2\] at offset 92, 1099511627776 values; the network has .* 2 values/,
  },
  {
    kind: 'a missing table entry',
    change: (s) => void s.parameters.pop(),
    message: /the parameter table has 5 entries; the network has 6 \(missing: 'classifier\.bias'/,
  },
  {
    kind: 'an extra table entry',
    change: (s) => void s.parameters.push({ name: 'extra', shape: [1], offset: 100, size: 1 }),
    message: /the parameter table has 7 entries; the network has 6 \(extra: .*"extra"/,
  },
  {
    kind: 'parameter bytes short of the table',
    change: (s) => (s.params = s.params.slice(1)),
    message: /params hold 396 bytes; the network has 100 float32 values \(400 bytes\)/,
  },
  {
    kind: 'an optimizer state array of another length',
    change: (s) => (s.optimizer.state.momentumBuffer = new Float32Array(97)),
    message: /optimizer state 'momentumBuffer' holds 388 bytes; the network has 100 float32 values/,
  },
  {
    kind: 'a missing optimizer state array',
    change: (s) => (s.optimizer.state = {}),
    message: /sgd keeps state arrays momentumBuffer; the file has none/,
  },
  {
    kind: "another optimizer's state arrays",
    change: (s) => (s.optimizer.state = { expAvg: s.params, expAvgSq: s.params }),
    message: /sgd keeps state arrays momentumBuffer; the file has expAvg, expAvgSq/,
  },
  {
    kind: 'optimizer state of another optimizer than the config',
    change: (s) => (s.config.optimizer = 'adamw'),
    message: /the optimizer state is sgd's but config\.optimizer is 'adamw'/,
  },
  {
    kind: 'an unknown optimizer',
    change: (s) => (s.optimizer.name = 'rmsprop'),
    message: /optimizer 'rmsprop' is not one this convoy knows/,
  },
  {
    kind: 'a modelSpec of another network than the table',
    change: (s) => (s.modelSpec = { ...(s.modelSpec as RecipeModelSpec), width: 4 }),
    message: /entry 0 is 'features\.0\.conv1\.weight' shape \[2, 3, 3, 3\].*the network has 'features\.0\.conv1\.weight' shape \[4, 3, 3, 3\]/,
  },
  {
    kind: 'an absurd width',
    change: (s) => (s.modelSpec = { ...(s.modelSpec as RecipeModelSpec), width: 1e9 }),
    message: /modelSpec\.width must be a whole number from 1 to 512, got 1000000000/,
  },
  {
    kind: 'an absurd class count',
    change: (s) => (s.modelSpec = { ...s.modelSpec, classes: 1e12 }),
    message: /modelSpec\.classes must be a whole number from 1 to 100000, got 1000000000000/,
  },
  {
    kind: 'an absurd resolution',
    change: (s) => {
      s.modelSpec = { ...(s.modelSpec as RecipeModelSpec), resolution: 2 ** 31 };
      s.resolution = 2 ** 31;
    },
    message: /modelSpec\.resolution must be a whole number from 8 to 4096, got 2147483648/,
  },
  {
    kind: 'an unknown model kind',
    change: (s) => (s.modelSpec = { ...(s.modelSpec as RecipeModelSpec), kind: 'resnet' as 'recipe' }),
    message: /modelSpec\.kind "resnet" is not a model this convoy builds/,
  },
  {
    kind: 'class names of another count than the classes',
    change: (s) => (s.classNames = ['cat', 'dog', 'bird']),
    message: /classNames has 3 names, modelSpec\.classes is 2/,
  },
  {
    kind: 'a resolution other than the modelSpec',
    change: (s) => (s.resolution = 32),
    message: /resolution 32 differs from modelSpec\.resolution 8/,
  },
  {
    kind: 'a normalisation for another channel count',
    change: (s) => (s.normalization = { mean: [0.5], std: [0.25] }),
    message: /normalization has 1 means and 1 stds; the network takes 3 input channels/,
  },
  {
    kind: 'a zero standard deviation',
    change: (s) => (s.normalization = { mean: [0.5, 0.5, 0.5], std: [0.25, 0, 0.25] }),
    message: /normalization must be \{ mean: \[finite numbers\], std: \[positive numbers\] \}/,
  },
  {
    kind: 'a non-finite parameter',
    change: (s) => (s.params[57] = Number.NaN),
    message: /parameter 'features\.0\.conv2\.weight'\[1\] is NaN; a checkpoint holds finite values only/,
  },
  {
    kind: 'a non-finite optimizer state value',
    change: (s) => (s.optimizer.state.momentumBuffer[99] = Number.POSITIVE_INFINITY),
    message: /optimizer state 'momentumBuffer' 'classifier\.bias'\[1\] is Infinity/,
  },
  {
    kind: 'a recipe checkpoint with buffers',
    change: (s) => (s.buffers = { entries: [{ name: 'features.0.running_mean', shape: [2], offset: 0, size: 2 }], data: new Float32Array(2) }),
    message: /the buffer table has 1 entries; the network has 0 \(extra: .*running_mean/,
  },
  {
    kind: 'a layer list without its buffers',
    base: 'layers',
    change: (s) => (s.buffers = { entries: [], data: new Float32Array(0) }),
    message: /the buffer table has 0 entries; the network has 3 \(missing: 'layers\.1\.running_mean' shape \[4\] at offset 0, 4 values\)/,
  },
  {
    kind: 'a buffer table entry of another shape',
    base: 'layers',
    change: (s) => (s.buffers.entries[1].shape = [2, 2]),
    message: /buffer table entry 1 is 'layers\.1\.running_var' shape \[2, 2\] .*; the network has 'layers\.1\.running_var' shape \[4\]/,
  },
  {
    kind: 'buffer bytes short of the table',
    base: 'layers',
    change: (s) => (s.buffers.data = s.buffers.data.slice(1)),
    message: /buffers hold 32 bytes; the network has 9 float32 values \(36 bytes\)/,
  },
  {
    kind: 'a non-finite running statistic',
    base: 'layers',
    change: (s) => (s.buffers.data[6] = Number.NaN),
    message: /buffer 'layers\.1\.running_var'\[2\] is NaN/,
  },
  {
    kind: 'a layer list whose BatchNorm has other channels than its conv',
    base: 'layers',
    change: (s) => {
      const spec = s.modelSpec as LayerModelSpec;
      s.modelSpec = { ...spec, layers: [spec.layers[0], { type: 'batchnorm2d', groupSize: 4 }, ...spec.layers.slice(2)].map((l, i) => (i === 0 ? { ...l, out: 5 } : l)) };
    },
    message: /parameter table entry 0 is 'layers\.0\.weight' shape \[4, 3, 3, 3\].*; the network has 'layers\.0\.weight' shape \[5, 3, 3, 3\]/,
  },
  {
    kind: 'a layer list that does not build',
    base: 'layers',
    change: (s) => {
      const spec = s.modelSpec as LayerModelSpec;
      s.modelSpec = { ...spec, layers: [...spec.layers.slice(0, 5), { type: 'linear', out: 'classes' }] };
    },
    message: /modelSpec does not describe a network this convoy builds: layers\[5\]: linear needs a flat input/,
  },
  {
    kind: 'a layer list of absurd size',
    base: 'layers',
    change: (s) => {
      const spec = s.modelSpec as LayerModelSpec;
      s.modelSpec = { ...spec, layers: [{ ...spec.layers[0], out: 1e12 }, ...spec.layers.slice(1)] };
    },
    message: /modelSpec\.layers\[0\]\.out must hold finite numbers of at most 1048576, got 1000000000000/,
  },
  {
    kind: 'a layer list with an absurd [height, width] kernel',
    base: 'layers',
    change: (s) => {
      const spec = s.modelSpec as LayerModelSpec;
      s.modelSpec = { ...spec, layers: [{ ...spec.layers[0], kernel: [3, 1e9], padding: [1, 1e9] }, ...spec.layers.slice(1)] };
    },
    message: /modelSpec\.layers\[0\]\.kernel must hold finite numbers of at most 1048576, got \[3,1000000000\]/,
  },
  {
    kind: 'a layer list for another input than its resolution',
    base: 'layers',
    change: (s) => (s.resolution = 32),
    message: /resolution 32 differs from modelSpec\.input\.resolution 8/,
  },
];

/** A valid checkpoint with one self-contradiction applied. */
export function contradictoryCheckpoint(kind: string): CheckpointState {
  const entry = SELF_CONTRADICTIONS.find((c) => c.kind === kind);
  if (!entry) throw new Error(`no self-contradiction '${kind}'`);
  const state = entry.base === 'layers' ? validCheckpoint(TINY_LAYERS_SPEC) : validCheckpoint();
  entry.change(state);
  return state;
}
