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
    message: /\bparameter table\b.*\bentry 1\b.*'features\.0\.conv1\.bogus'.*'features\.0\.conv1\.bias'/,
  },
  {
    kind: 'a table entry with another shape (same size)',
    change: (s) => (s.parameters[0].shape = [2, 3, 9, 1]),
    message: /\bentry 0\b.*'features\.0\.conv1\.weight'.*\[2, 3, 9, 1\].*\[2, 3, 3, 3\]/,
  },
  {
    kind: 'a table entry at another offset',
    change: (s) => (s.parameters[2].offset += 1),
    message: /\bentry 2\b.*'features\.0\.conv2\.weight'.*\boffset 57\b.*\boffset 56\b/,
  },
  {
    kind: 'a table entry of another size',
    change: (s) => (s.parameters[3].size = 2 ** 40),
    message: /\bentry 3\b.*'features\.0\.conv2\.bias'.*\b1099511627776 values\b.*\b2 values\b/,
  },
  {
    kind: 'a missing table entry',
    change: (s) => void s.parameters.pop(),
    message: /\bparameter table\b.*\b5\b.*\b6\b.*\bmissing\b.*'classifier\.bias'/,
  },
  {
    kind: 'an extra table entry',
    change: (s) => void s.parameters.push({ name: 'extra', shape: [1], offset: 100, size: 1 }),
    message: /\bparameter table\b.*\b7\b.*\b6\b.*\bextra\b.*"extra"/,
  },
  {
    kind: 'parameter bytes short of the table',
    change: (s) => (s.params = s.params.slice(1)),
    message: /\bparams\b.*\b396 bytes\b.*\b100 float32 values\b.*\b400 bytes\b/,
  },
  {
    kind: 'an optimizer state array of another length',
    change: (s) => (s.optimizer.state.momentumBuffer = new Float32Array(97)),
    message: /'momentumBuffer'.*\b388 bytes\b.*\b100 float32 values\b/,
  },
  {
    kind: 'a missing optimizer state array',
    change: (s) => (s.optimizer.state = {}),
    message: /\bsgd\b.*\bmomentumBuffer\b.*\bnone\b/,
  },
  {
    kind: "another optimizer's state arrays",
    change: (s) => (s.optimizer.state = { expAvg: s.params, expAvgSq: s.params }),
    message: /\bsgd\b.*\bmomentumBuffer\b.*\bexpAvg, expAvgSq\b/,
  },
  {
    kind: 'optimizer state of another optimizer than the config',
    change: (s) => (s.config.optimizer = 'adamw'),
    message: /\bsgd\b.*\bconfig\.optimizer\b.*'adamw'/,
  },
  {
    kind: 'an unknown optimizer',
    change: (s) => (s.optimizer.name = 'rmsprop'),
    message: /\boptimizer 'rmsprop'/,
  },
  {
    kind: 'a modelSpec of another network than the table',
    change: (s) => (s.modelSpec = { ...(s.modelSpec as RecipeModelSpec), width: 4 }),
    message: /\bentry 0\b.*'features\.0\.conv1\.weight'.*\[2, 3, 3, 3\].*\[4, 3, 3, 3\]/,
  },
  {
    kind: 'an absurd width',
    change: (s) => (s.modelSpec = { ...(s.modelSpec as RecipeModelSpec), width: 1e9 }),
    message: /\bmodelSpec\.width\b.*\b1\b.*\b512\b.*\b1000000000\b/,
  },
  {
    kind: 'an absurd class count',
    change: (s) => (s.modelSpec = { ...s.modelSpec, classes: 1e12 }),
    message: /\bmodelSpec\.classes\b.*\b1\b.*\b100000\b.*\b1000000000000\b/,
  },
  {
    kind: 'an absurd resolution',
    change: (s) => {
      s.modelSpec = { ...(s.modelSpec as RecipeModelSpec), resolution: 2 ** 31 };
      s.resolution = 2 ** 31;
    },
    message: /\bmodelSpec\.resolution\b.*\b8\b.*\b4096\b.*\b2147483648\b/,
  },
  {
    kind: 'an unknown model kind',
    change: (s) => (s.modelSpec = { ...(s.modelSpec as RecipeModelSpec), kind: 'resnet' as 'recipe' }),
    message: /\bmodelSpec\.kind "resnet"/,
  },
  {
    kind: 'class names of another count than the classes',
    change: (s) => (s.classNames = ['cat', 'dog', 'bird']),
    message: /\bclassNames\b.*\b3\b.*\bmodelSpec\.classes\b.*\b2\b/,
  },
  {
    kind: 'a resolution other than the modelSpec',
    change: (s) => (s.resolution = 32),
    message: /\bresolution 32\b.*\bmodelSpec\.resolution 8\b/,
  },
  {
    kind: 'a normalisation for another channel count',
    change: (s) => (s.normalization = { mean: [0.5], std: [0.25] }),
    message: /\bnormalization\b.*\b1 means\b.*\b1 stds\b.*\b3 input channels\b/,
  },
  {
    kind: 'a zero standard deviation',
    change: (s) => (s.normalization = { mean: [0.5, 0.5, 0.5], std: [0.25, 0, 0.25] }),
    message: /\bnormalization\b.*\bmean\b.*\bstd\b/,
  },
  {
    kind: 'a non-finite parameter',
    change: (s) => (s.params[57] = Number.NaN),
    message: /\bparameter 'features\.0\.conv2\.weight'\[1\].*\bNaN\b/,
  },
  {
    kind: 'a non-finite optimizer state value',
    change: (s) => (s.optimizer.state.momentumBuffer[99] = Number.POSITIVE_INFINITY),
    message: /'momentumBuffer'.*'classifier\.bias'\[1\].*\bInfinity\b/,
  },
  {
    kind: 'a recipe checkpoint with buffers',
    change: (s) => (s.buffers = { entries: [{ name: 'features.0.running_mean', shape: [2], offset: 0, size: 2 }], data: new Float32Array(2) }),
    message: /\bbuffer table\b.*\b1\b.*\b0\b.*\bextra\b.*running_mean/,
  },
  {
    kind: 'a layer list without its buffers',
    base: 'layers',
    change: (s) => (s.buffers = { entries: [], data: new Float32Array(0) }),
    message: /\bbuffer table\b.*\b0\b.*\b3\b.*\bmissing\b.*'layers\.1\.running_mean'.*\[4\]/,
  },
  {
    kind: 'a buffer table entry of another shape',
    base: 'layers',
    change: (s) => (s.buffers.entries[1].shape = [2, 2]),
    message: /\bbuffer table\b.*\bentry 1\b.*'layers\.1\.running_var'.*\[2, 2\].*\[4\]/,
  },
  {
    kind: 'buffer bytes short of the table',
    base: 'layers',
    change: (s) => (s.buffers.data = s.buffers.data.slice(1)),
    message: /\bbuffers\b.*\b32 bytes\b.*\b9 float32 values\b.*\b36 bytes\b/,
  },
  {
    kind: 'a non-finite running statistic',
    base: 'layers',
    change: (s) => (s.buffers.data[6] = Number.NaN),
    message: /\bbuffer 'layers\.1\.running_var'\[2\].*\bNaN\b/,
  },
  {
    kind: 'a layer list whose BatchNorm has other channels than its conv',
    base: 'layers',
    change: (s) => {
      const spec = s.modelSpec as LayerModelSpec;
      s.modelSpec = { ...spec, layers: [spec.layers[0], { type: 'batchnorm2d', groupSize: 4 }, ...spec.layers.slice(2)].map((l, i) => (i === 0 ? { ...l, out: 5 } : l)) };
    },
    message: /\bparameter table\b.*\bentry 0\b.*'layers\.0\.weight'.*\[4, 3, 3, 3\].*\[5, 3, 3, 3\]/,
  },
  {
    kind: 'a layer list that does not build',
    base: 'layers',
    change: (s) => {
      const spec = s.modelSpec as LayerModelSpec;
      s.modelSpec = { ...spec, layers: [...spec.layers.slice(0, 5), { type: 'linear', out: 'classes' }] };
    },
    message: /\bmodelSpec\b.*\blayers\[5\]: linear\b.*\bflat\b/,
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
