import { DEFAULT_GHOST_GROUP_SIZE } from '../layers/batchnorm2d';

/**
 * The fields each layer type of a model file takes, with PyTorch's defaults (docs/ARCHITECTURE.md,
 * "The model file"). A field without a default is required.
 */
export type FieldKind =
  | 'positiveInteger' | 'nonNegativeInteger' | 'size' | 'padding' | 'boolean' | 'positiveNumber' | 'probability' | 'fraction' | 'finiteNumber' | 'outFeatures' | 'layers'
  | 'convInit' | 'linearInit' | 'frozen';

export interface FieldRule {
  kind: FieldKind;
  /** Filled in when the field is absent; 'kernel' means "the layer's kernel" (pool stride). */
  default?: number | boolean | 'kernel';
  /**
   * The field may be left out, and then stays out of the filled-in file (its absence means PyTorch's
   * default): the fields added after files and checkpoints existed, so those read as they did.
   */
  optional?: true;
}

/** How a conv2d's weight starts (docs/ARCHITECTURE.md, "The model file"): PyTorch's default draw, identity, or data whitening. */
export const CONV_INITS = ['default', 'identity', 'whitening'] as const;
export type ConvInit = (typeof CONV_INITS)[number];
/** How a linear layer's weight starts: PyTorch's default draw, or identity. */
export const LINEAR_INITS = ['default', 'identity'] as const;

export const LAYER_FIELDS: Record<string, Record<string, FieldRule>> = {
  conv2d: {
    out: { kind: 'positiveInteger' },
    kernel: { kind: 'size' },
    stride: { kind: 'size', default: 1 },
    padding: { kind: 'padding', default: 0 },
    bias: { kind: 'boolean', default: true },
    init: { kind: 'convInit', optional: true },
    frozen: { kind: 'frozen', optional: true },
  },
  batchnorm2d: {
    eps: { kind: 'positiveNumber', default: 1e-5 },
    momentum: { kind: 'fraction', default: 0.1 },
    affine: { kind: 'boolean', default: true },
    groupSize: { kind: 'positiveInteger', default: DEFAULT_GHOST_GROUP_SIZE },
    weight: { kind: 'boolean', optional: true },
    frozen: { kind: 'frozen', optional: true },
  },
  relu: {},
  gelu: {},
  maxpool2d: {
    kernel: { kind: 'size' },
    stride: { kind: 'size', default: 'kernel' },
    padding: { kind: 'padding', default: 0 },
  },
  avgpool2d: {
    kernel: { kind: 'size' },
    stride: { kind: 'size', default: 'kernel' },
    padding: { kind: 'padding', default: 0 },
  },
  globalavgpool2d: {},
  globalmaxpool2d: {},
  flatten: {},
  linear: {
    out: { kind: 'outFeatures' },
    bias: { kind: 'boolean', default: true },
    init: { kind: 'linearInit', optional: true },
    frozen: { kind: 'frozen', optional: true },
  },
  dropout: { p: { kind: 'probability', default: 0.5 } },
  residual: { layers: { kind: 'layers' } },
  scale: { by: { kind: 'finiteNumber' } },
};

export const LAYER_TYPES = Object.keys(LAYER_FIELDS);

const KIND_WORDS: Record<FieldKind, string> = {
  positiveInteger: 'an integer >= 1',
  nonNegativeInteger: 'an integer >= 0',
  size: 'an integer >= 1 or a pair [height, width] of them',
  padding: 'an integer >= 0 or a pair [height, width] of them',
  boolean: 'true or false',
  positiveNumber: 'a number > 0',
  probability: 'a number in [0, 1)',
  fraction: 'a number in [0, 1]',
  finiteNumber: 'a finite number',
  outFeatures: 'an integer >= 1 or "classes"',
  layers: 'a non-empty array of layers',
  convInit: `one of ${CONV_INITS.map((i) => `"${i}"`).join(', ')}`,
  linearInit: `one of ${LINEAR_INITS.map((i) => `"${i}"`).join(', ')}`,
  frozen: 'true, false or a non-empty array of the layer\'s parameter names (["weight"], ["bias"])',
};

/** Whether `value` is of `kind`; the words for an error otherwise. */
export function fieldProblem(kind: FieldKind, value: unknown): string | null {
  const ok = (() => {
    switch (kind) {
      case 'positiveInteger': return Number.isInteger(value) && (value as number) >= 1;
      case 'nonNegativeInteger': return Number.isInteger(value) && (value as number) >= 0;
      case 'size': return isSize(value, 1);
      case 'padding': return isSize(value, 0);
      case 'boolean': return typeof value === 'boolean';
      case 'positiveNumber': return typeof value === 'number' && Number.isFinite(value) && value > 0;
      case 'probability': return typeof value === 'number' && value >= 0 && value < 1;
      case 'fraction': return typeof value === 'number' && value >= 0 && value <= 1;
      case 'finiteNumber': return typeof value === 'number' && Number.isFinite(value);
      case 'outFeatures': return value === 'classes' || (Number.isInteger(value) && (value as number) >= 1);
      case 'layers': return Array.isArray(value) && value.length > 0;
      case 'convInit': return (CONV_INITS as readonly unknown[]).includes(value);
      case 'linearInit': return (LINEAR_INITS as readonly unknown[]).includes(value);
      case 'frozen': return typeof value === 'boolean' || (Array.isArray(value) && value.length > 0 && value.every((v) => v === 'weight' || v === 'bias') && new Set(value).size === value.length);
    }
  })();
  return ok ? null : `must be ${KIND_WORDS[kind]}, got ${JSON.stringify(value)}`;
}

/** An integer >= `min`, or a pair [height, width] of them (as PyTorch's kernel_size, stride, padding). */
function isSize(value: unknown, min: number): boolean {
  const ok = (v: unknown) => Number.isInteger(v) && (v as number) >= min;
  return ok(value) || (Array.isArray(value) && value.length === 2 && ok(value[0]) && ok(value[1]));
}

/** A size field (an integer or [height, width]) as [height, width]. */
export function sizePair(value: number | readonly [number, number]): [number, number] {
  return typeof value === 'number' ? [value, value] : [value[0], value[1]];
}
