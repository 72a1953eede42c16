import { CIFAR10_NORMALIZATION } from '@convoy/data';
import { buildModel, createParameters, type ModelSpec } from '@convoy/nn';
import type { CheckpointState } from '../src/checkpoint';

/** A tiny recipe network (8x8 input, width 2, two classes: 100 parameters). */
export const TINY_SPEC: ModelSpec = { kind: 'recipe', resolution: 8, classes: 2, width: 2 };

/** A consistent checkpoint of TINY_SPEC (or `spec`), parameters initialised from a seed; SGD state. */
export function validCheckpoint(spec: ModelSpec = TINY_SPEC, classNames = ['cat', 'dog']): CheckpointState {
  const { params } = createParameters(buildModel(spec), { seed: 3 });
  return {
    config: { epochs: 3, lr: 0.05, batchSize: 16, width: spec.width, optimizer: 'sgd' },
    modelSpec: spec,
    classNames,
    resolution: spec.resolution,
    normalization: { mean: [...CIFAR10_NORMALIZATION.mean], std: [...CIFAR10_NORMALIZATION.std] },
    parameters: params.entries.map((e) => ({ name: e.name, shape: e.shape.slice(), offset: e.offset, size: e.size })),
    params: params.data.slice(),
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
export const SELF_CONTRADICTIONS: Array<{ kind: string; change: (s: CheckpointState) => void; message: RegExp }> = [
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
    change: (s) => (s.modelSpec = { ...s.modelSpec, width: 4 }),
    message: /entry 0 is 'features\.0\.conv1\.weight' shape \[2, 3, 3, 3\].*the network has 'features\.0\.conv1\.weight' shape \[4, 3, 3, 3\]/,
  },
  {
    kind: 'an absurd width',
    change: (s) => (s.modelSpec = { ...s.modelSpec, width: 1e9 }),
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
      s.modelSpec = { ...s.modelSpec, resolution: 2 ** 31 };
      s.resolution = 2 ** 31;
    },
    message: /modelSpec\.resolution must be a whole number from 8 to 4096, got 2147483648/,
  },
  {
    kind: 'an unknown model kind',
    change: (s) => (s.modelSpec = { ...s.modelSpec, kind: 'resnet' as 'recipe' }),
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
];

/** A valid checkpoint with one self-contradiction applied. */
export function contradictoryCheckpoint(kind: string): CheckpointState {
  const state = validCheckpoint();
  const entry = SELF_CONTRADICTIONS.find((c) => c.kind === kind);
  if (!entry) throw new Error(`no self-contradiction '${kind}'`);
  entry.change(state);
  return state;
}
