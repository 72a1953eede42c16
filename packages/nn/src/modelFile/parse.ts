import type { LayerListSpec, LayerSpec } from '../layerList';
import { fieldProblem, LAYER_FIELDS, LAYER_TYPES, sizePair } from './fields';

/** A size field of a checked layer: an integer or [height, width]. */
type Size = number | [number, number];

/**
 * A model file that cannot be built: `path` names the layer (`layers[3].layers[0]`) or the field
 * (`input.channels`) at fault, and the message says what is wrong and what would fit.
 */
export class ModelFileError extends Error {
  constructor(readonly path: string, message: string) {
    super(`${path}: ${message}`);
    this.name = 'ModelFileError';
  }
}

/** One layer of a checked model file, as a summary prints it. */
export interface LayerRow {
  /** `layers[3]`, `layers[3].layers[0]`. */
  path: string;
  type: string;
  /** 0 at the top level, 1 inside a residual, ... */
  depth: number;
  inShape: number[];
  outShape: number[];
  /** Parameters of the layer (a residual: of its body), frozen ones included. */
  parameters: number;
  /** Of those, the ones a `frozen` field keeps at their initial values. */
  frozen: number;
  /** Multiply-adds of one image's forward pass: convolutions and linear layers (a residual: its body's). */
  multiplyAdds: number;
}

export interface CheckedModelFile {
  /** The file with every default filled in (what a checkpoint stores). */
  spec: LayerListSpec;
  rows: LayerRow[];
  /** Every parameter, frozen ones included. */
  parameters: number;
  /** The parameters that never train (`frozen`). */
  frozen: number;
  multiplyAdds: number;
}

const TOP_LEVEL_FIELDS = ['input', 'layers', 'description'];

/**
 * Checks a model file (parsed JSON) before any work and fills in the defaults: unknown types and
 * fields, values of the wrong kind, and shapes that do not fit (a pool that shrinks a side below 1,
 * a residual whose body changes the shape, a linear layer before a flatten, a network that does not
 * end in `classes` outputs) are ModelFileErrors naming the layer's path and the shapes in and out.
 * `"out": "classes"` stays as written in the spec and counts as `classes` here.
 */
export function checkModelFile(json: unknown, classes: number): CheckedModelFile {
  if (!isRecord(json)) throw new ModelFileError('model file', `must be a JSON object { "input": {...}, "layers": [...] }, got ${describe(json)}`);
  unknownFields(json, TOP_LEVEL_FIELDS, 'model file');
  if (json.description !== undefined && typeof json.description !== 'string') throw new ModelFileError('description', `must be a string, got ${describe(json.description)}`);
  const input = json.input;
  if (!isRecord(input)) throw new ModelFileError('input', `must be an object { "channels": 3, "resolution": 32 }, got ${describe(input)}`);
  unknownFields(input, ['channels', 'resolution'], 'input');
  for (const key of ['channels', 'resolution'] as const) {
    const problem = fieldProblem('positiveInteger', input[key]);
    if (problem) throw new ModelFileError(`input.${key}`, problem);
  }
  const channels = input.channels as number;
  const resolution = input.resolution as number;
  const rows: LayerRow[] = [];
  const { layers, shape } = checkLayers(json.layers, [channels, resolution, resolution], classes, 'layers', 0, rows);
  if (shape.length !== 1 || shape[0] !== classes) {
    throw new ModelFileError('layers', `the network ends in [${shape.join(', ')}], not the ${classes} class scores: end it with { "type": "flatten" } (if needed) and { "type": "linear", "out": "classes" }`);
  }
  const leaves = rows.filter((r) => r.type !== 'residual');
  return {
    spec: { ...(json.description !== undefined ? { description: json.description } : {}), input: { channels, resolution }, layers },
    rows,
    parameters: leaves.reduce((sum, r) => sum + r.parameters, 0),
    frozen: leaves.reduce((sum, r) => sum + r.frozen, 0),
    multiplyAdds: leaves.reduce((sum, r) => sum + r.multiplyAdds, 0),
  };
}

/**
 * The data's images against the file's `input`: a usage problem when the channels or the side
 * differ (`source` names the data, e.g. "CIFAR-10" or the folder).
 */
export function checkModelInput(spec: LayerListSpec, data: { channels: number; resolution: number }, source: string): void {
  if (spec.input.channels !== data.channels) {
    throw new ModelFileError('input.channels', `the model file takes ${spec.input.channels}-channel images but ${source} has ${data.channels} channels: set "channels": ${data.channels}`);
  }
  if (spec.input.resolution !== data.resolution) {
    throw new ModelFileError('input.resolution', `the model file takes ${spec.input.resolution} x ${spec.input.resolution} images but ${source} gives ${data.resolution} x ${data.resolution}: set "resolution": ${data.resolution}${source === 'CIFAR-10' ? '' : ` or train with --resolution ${spec.input.resolution}`}`);
  }
}

function checkLayers(value: unknown, shape: number[], classes: number, path: string, depth: number, rows: LayerRow[]): { layers: LayerSpec[]; shape: number[] } {
  const problem = fieldProblem('layers', value);
  if (problem) throw new ModelFileError(path, problem);
  const layers: LayerSpec[] = [];
  (value as unknown[]).forEach((raw, i) => {
    const where = `${path}[${i}]`;
    const { layer, outShape } = checkLayer(raw, shape, classes, where, depth, rows);
    layers.push(layer);
    shape = outShape;
  });
  return { layers, shape };
}

function checkLayer(raw: unknown, inShape: number[], classes: number, where: string, depth: number, rows: LayerRow[]): { layer: LayerSpec; outShape: number[] } {
  if (!isRecord(raw)) throw new ModelFileError(where, `a layer must be an object with a "type", got ${describe(raw)}`);
  const type = raw.type;
  if (typeof type !== 'string' || !(type in LAYER_FIELDS)) {
    throw new ModelFileError(where, `unknown layer type ${JSON.stringify(type)}; the types are ${LAYER_TYPES.join(', ')}`);
  }
  const rules = LAYER_FIELDS[type];
  unknownFields(raw, ['type', ...Object.keys(rules)], where, type);
  const layer: LayerSpec = { type };
  for (const [key, rule] of Object.entries(rules)) {
    if (rule.kind === 'layers') continue;
    let v = raw[key];
    if (v === undefined && rule.optional) continue;
    if (v === undefined) {
      if (rule.default === undefined) throw new ModelFileError(where, `${type} needs "${key}" (${fieldProblem(rule.kind, undefined)?.replace(/, got .*$/, '').replace(/^must be /, '')})`);
      v = rule.default === 'kernel' ? raw.kernel : rule.default;
    }
    const problem = fieldProblem(rule.kind, v);
    if (problem) throw new ModelFileError(where, `${type}'s "${key}" ${problem}`);
    // A pair is copied, so the filled-in file shares no arrays with what it was read from (or pool stride with kernel).
    layer[key] = Array.isArray(v) ? [...(v as unknown[])] : v;
  }
  /** The row of a layer whose parameters are `sizes` (local name -> values), `frozen` naming those that never train. */
  const row = (outShape: number[], sizes: Record<string, number> = {}, multiplyAdds = 0): { layer: LayerSpec; outShape: number[] } => {
    const names = Object.keys(sizes);
    const frozenNames = frozenParameterNames(layer.frozen, names, where, type);
    const parameters = names.reduce((sum, n) => sum + sizes[n], 0);
    const frozen = frozenNames.reduce((sum, n) => sum + sizes[n], 0);
    rows.push({ path: where, type, depth, inShape, outShape, parameters, frozen, multiplyAdds });
    return { layer, outShape };
  };
  const spatial = (): [number, number, number] => {
    if (inShape.length !== 3) throw new ModelFileError(where, `${type} needs an image input [channels, height, width], got [${inShape.join(', ')}] (it comes after a flatten or linear layer)`);
    return inShape as [number, number, number];
  };
  const words = (v: number | [number, number]): string => (typeof v === 'number' ? String(v) : v.join('x'));
  /** The output sides of a window (conv or pool) over [h, w]; each must stay at least 1. */
  const sides = (h: number, w: number, kernel: Size, stride: Size, padding: Size): [number, number] => {
    const [k, s, p] = [sizePair(kernel), sizePair(stride), sizePair(padding)];
    const out: [number, number] = [Math.floor((h + 2 * p[0] - k[0]) / s[0]) + 1, Math.floor((w + 2 * p[1] - k[1]) / s[1]) + 1];
    if (out[0] < 1 || out[1] < 1) throw new ModelFileError(where, `${type} (kernel ${words(kernel)}, stride ${words(stride)}, padding ${words(padding)}) shrinks the input [${inShape.join(', ')}] below 1 pixel: use a smaller kernel or stride, or fewer pooling layers before it`);
    return out;
  };
  switch (type) {
    case 'conv2d': {
      const [c, h, w] = spatial();
      const { out, kernel, stride, padding, bias } = layer as unknown as { out: number; kernel: Size; stride: Size; padding: Size; bias: boolean };
      const [kh, kw] = sizePair(kernel);
      const outShape = [out, ...sides(h, w, kernel, stride, padding)];
      if (layer.init === 'whitening') checkWhitening(where, c, kh, kw, out);
      return row(outShape, { weight: out * c * kh * kw, ...(bias ? { bias: out } : {}) }, out * outShape[1] * outShape[2] * c * kh * kw);
    }
    case 'batchnorm2d': {
      const [c] = spatial();
      if (layer.weight === false && !layer.affine) {
        throw new ModelFileError(where, 'batchnorm2d\'s "weight": false keeps the bias without the scale, but "affine": false has neither: leave one of them out');
      }
      return row(inShape, layer.affine ? { ...(layer.weight !== false ? { weight: c } : {}), bias: c } : {});
    }
    case 'maxpool2d':
    case 'avgpool2d': {
      const [c, h, w] = spatial();
      const { kernel, stride, padding } = layer as unknown as { kernel: Size; stride: Size; padding: Size };
      const [k, p] = [sizePair(kernel), sizePair(padding)];
      if (2 * p[0] > k[0] || 2 * p[1] > k[1]) throw new ModelFileError(where, `${type}'s "padding" ${words(padding)} is more than half its kernel ${words(kernel)} (PyTorch refuses that too)`);
      return row([c, ...sides(h, w, kernel, stride, padding)]);
    }
    case 'globalavgpool2d':
    case 'globalmaxpool2d':
      return row([spatial()[0], 1, 1]);
    case 'flatten':
      return row([inShape.reduce((a, b) => a * b, 1)]);
    case 'linear': {
      if (inShape.length !== 1) throw new ModelFileError(where, `linear needs a flat input, got [${inShape.join(', ')}]: put { "type": "flatten" } before it`);
      const out = layer.out === 'classes' ? classes : (layer.out as number);
      return row([out], { weight: inShape[0] * out, ...(layer.bias ? { bias: out } : {}) }, inShape[0] * out);
    }
    case 'residual': {
      const start = rows.length;
      rows.push({ path: where, type, depth, inShape, outShape: inShape, parameters: 0, frozen: 0, multiplyAdds: 0 });
      const body = checkLayers(raw.layers, inShape, classes, `${where}.layers`, depth + 1, rows);
      if (body.shape.join() !== inShape.join()) {
        throw new ModelFileError(where, `a residual's body must keep the shape of its input (output = input + body(input)); it maps [${inShape.join(', ')}] to [${body.shape.join(', ')}]`);
      }
      const inner = rows.slice(start + 1).filter((r) => r.type !== 'residual');
      rows[start].parameters = inner.reduce((sum, r) => sum + r.parameters, 0);
      rows[start].frozen = inner.reduce((sum, r) => sum + r.frozen, 0);
      rows[start].multiplyAdds = inner.reduce((sum, r) => sum + r.multiplyAdds, 0);
      layer.layers = body.layers;
      return { layer, outShape: inShape };
    }
    default: // relu, gelu, dropout, scale keep the shape
      return row(inShape);
  }
}

/**
 * The local names of a layer's parameters that a `frozen` field (true, false or names) keeps at
 * their initial values; a name the layer does not have is an error.
 */
function frozenParameterNames(frozen: unknown, names: string[], where: string, type: string): string[] {
  if (frozen === undefined || frozen === false) return [];
  if (names.length === 0) throw new ModelFileError(where, `${type} has no parameters to freeze here: leave "frozen" out`);
  if (frozen === true) return names;
  const listed = frozen as string[];
  const missing = listed.filter((n) => !names.includes(n));
  if (missing.length > 0) throw new ModelFileError(where, `${type}'s "frozen" names ${missing.map((n) => `"${n}"`).join(', ')}, which this layer does not have; its parameters are ${names.map((n) => `"${n}"`).join(', ')}`);
  return listed;
}

/**
 * `"init": "whitening"` sets the filters from the training images' patch statistics (one filter
 * per eigenvector of the patch covariance and one per its negative), so it must be the network's
 * first layer (it sees the images) with 2 x channels x kernel area outputs.
 */
function checkWhitening(where: string, channels: number, kh: number, kw: number, out: number): void {
  if (where !== 'layers[0]') throw new ModelFileError(where, `conv2d's "init": "whitening" computes its filters from the images, so only the network's first layer (layers[0]) can take it`);
  const wanted = 2 * channels * kh * kw;
  if (out !== wanted) throw new ModelFileError(where, `conv2d's "init": "whitening" makes 2 x ${channels} x ${kh} x ${kw} = ${wanted} filters (each patch eigenvector and its negative): set "out": ${wanted}`);
}

function unknownFields(object: Record<string, unknown>, allowed: string[], where: string, type?: string): void {
  for (const key of Object.keys(object)) {
    if (!allowed.includes(key)) {
      const fields = allowed.filter((k) => k !== 'type');
      const known = fields.length ? `the fields are ${fields.join(', ')}` : `${type ?? 'it'} takes no fields`;
      throw new ModelFileError(where, `${type ? `${type} has an ` : ''}unknown field "${key}"; ${known}`);
    }
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return 'an array';
  return value === undefined ? 'nothing' : JSON.stringify(value);
}
