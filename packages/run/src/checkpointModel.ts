import { MAX_RESOLUTION } from '@convoy/data';
import { buildModel, MAX_RECIPE_WIDTH, modelInputOf, optimizerStateNames, type LayerModelSpec, type ModelSpec, type RecipeModelSpec } from '@convoy/nn';
import { DEFAULT_RUN_CONFIG, OPTIMIZERS, optimizerSpecFor, type OptimizerName } from './config';

/** Where a parameter (or a buffer) lives inside its flat arena (floats, not bytes). */
export interface CheckpointParameterEntry {
  name: string;
  shape: number[];
  offset: number;
  size: number;
}

/**
 * A checkpoint's description of its model, checked, and the parameter table of the network that
 * description builds. Nothing here allocates in proportion to the sizes a file claims: the network
 * is constructed (layers hold no weights until bound) only to list its parameters.
 */
export interface ModelDescription {
  modelSpec: ModelSpec;
  classNames: string[];
  resolution: number;
  normalization: { mean: number[]; std: number[] };
  /** The table of the network built from modelSpec: what the file's table must equal. */
  parameters: CheckpointParameterEntry[];
  /** Parameter values of that network. */
  size: number;
  /** The network's buffers (BatchNorm's running statistics): what the file's buffer table must equal. */
  buffers: CheckpointParameterEntry[];
  /** Buffer values of that network. */
  bufferSize: number;
}

/** Upper bounds for a model spec read from a file; larger values are refused as absurd before anything is built. */
export const MAX_CHECKPOINT_CLASSES = 100_000;
export const MAX_CHECKPOINT_CHANNELS = 4;
/** Bounds on a layer list read from a file: layers in all (residual bodies included), nesting, and any one size field. */
export const MAX_CHECKPOINT_LAYERS = 10_000;
export const MAX_CHECKPOINT_NESTING = 16;
export const MAX_CHECKPOINT_LAYER_SIZE = 1 << 20;

/** A plain object as msgpack decodes one (not an array, not binary data). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);
}

function integerIn(what: string, value: unknown, min: number, max: number): number {
  if (!Number.isInteger(value) || (value as number) < min || (value as number) > max) {
    throw new RangeError(`${what} must be a whole number from ${min} to ${max}, got ${JSON.stringify(value)}`);
  }
  return value as number;
}

function checkRecipeSpec(spec: Record<string, unknown>): RecipeModelSpec {
  const unknown = Object.keys(spec).filter((k) => !['kind', 'resolution', 'classes', 'width', 'inChannels'].includes(k));
  if (unknown.length > 0) throw new RangeError(`modelSpec has fields this convoy does not know: ${unknown.join(', ')}`);
  const checked: RecipeModelSpec = {
    kind: 'recipe',
    resolution: integerIn('modelSpec.resolution', spec.resolution, 8, MAX_RESOLUTION),
    classes: integerIn('modelSpec.classes', spec.classes, 1, MAX_CHECKPOINT_CLASSES),
    width: integerIn('modelSpec.width', spec.width, 1, MAX_RECIPE_WIDTH),
  };
  if (spec.inChannels !== undefined) checked.inChannels = integerIn('modelSpec.inChannels', spec.inChannels, 1, MAX_CHECKPOINT_CHANNELS);
  return checked;
}

/**
 * Bounds every number of a layer list from a file before anything is built from it (nn's
 * buildLayerList then checks types, fields and shapes, naming the layer's path): a file cannot make
 * this convoy build a network of absurd size just to find out that its arrays do not match.
 */
function checkLayerBounds(layers: unknown, path: string, depth: number, count: { layers: number }): void {
  if (depth > MAX_CHECKPOINT_NESTING) throw new RangeError(`${path}: residual blocks nested more than ${MAX_CHECKPOINT_NESTING} deep`);
  if (!Array.isArray(layers)) throw new RangeError(`${path} must be a list of layers, got ${JSON.stringify(layers)?.slice(0, 120)}`);
  layers.forEach((layer, i) => {
    const where = `${path}[${i}]`;
    if (!isRecord(layer)) throw new RangeError(`${where} must be a map like { "type": "conv2d", ... }, got ${JSON.stringify(layer)?.slice(0, 120)}`);
    if (++count.layers > MAX_CHECKPOINT_LAYERS) throw new RangeError(`${path}: more than ${MAX_CHECKPOINT_LAYERS} layers`);
    for (const [key, value] of Object.entries(layer)) {
      if (key === 'layers') checkLayerBounds(value, `${where}.layers`, depth + 1, count);
      else {
        // Sizes are numbers or [height, width] pairs: every number in either is bounded.
        for (const n of Array.isArray(value) ? value : [value]) {
          if (typeof n === 'number' && !(Number.isFinite(n) && Math.abs(n) <= MAX_CHECKPOINT_LAYER_SIZE)) {
            throw new RangeError(`${where}.${key} must hold finite numbers of at most ${MAX_CHECKPOINT_LAYER_SIZE}, got ${JSON.stringify(value)}`);
          }
        }
      }
    }
  });
}

function checkLayerSpec(spec: Record<string, unknown>): LayerModelSpec {
  const unknown = Object.keys(spec).filter((k) => !['kind', 'classes', 'description', 'input', 'layers'].includes(k));
  if (unknown.length > 0) throw new RangeError(`modelSpec has fields this convoy does not know: ${unknown.join(', ')}`);
  if (spec.description !== undefined && typeof spec.description !== 'string') throw new RangeError(`modelSpec.description must be a string, got ${JSON.stringify(spec.description)?.slice(0, 120)}`);
  const input = spec.input;
  if (!isRecord(input)) throw new RangeError(`modelSpec.input must be { channels, resolution }, got ${JSON.stringify(input)}`);
  const classes = integerIn('modelSpec.classes', spec.classes, 1, MAX_CHECKPOINT_CLASSES);
  const checkedInput = {
    channels: integerIn('modelSpec.input.channels', input.channels, 1, MAX_CHECKPOINT_CHANNELS),
    resolution: integerIn('modelSpec.input.resolution', input.resolution, 1, MAX_RESOLUTION),
  };
  checkLayerBounds(spec.layers, 'modelSpec.layers', 0, { layers: 0 });
  return {
    kind: 'layers', classes, ...(spec.description !== undefined ? { description: spec.description } : {}), input: checkedInput, layers: spec.layers as LayerModelSpec['layers'],
  };
}

function checkModelSpec(spec: unknown): ModelSpec {
  if (!isRecord(spec)) throw new RangeError(`modelSpec is missing or not a map (got ${JSON.stringify(spec)})`);
  if (spec.kind === 'recipe') return checkRecipeSpec(spec);
  if (spec.kind === 'layers') return checkLayerSpec(spec);
  throw new RangeError(`modelSpec.kind ${JSON.stringify(spec.kind)} is not a model this convoy builds (expected "recipe" or "layers")`);
}

function checkClassNames(names: unknown, classes: number): string[] {
  if (!Array.isArray(names) || !names.every((n) => typeof n === 'string' && n.length > 0)) {
    throw new RangeError(`classNames must be a list of non-empty strings, got ${JSON.stringify(names)?.slice(0, 200)}`);
  }
  if (names.length !== classes) throw new RangeError(`classNames has ${names.length} names, modelSpec.classes is ${classes}`);
  const duplicate = (names as string[]).find((n, i) => names.indexOf(n) !== i);
  if (duplicate !== undefined) throw new RangeError(`classNames lists ${JSON.stringify(duplicate)} twice`);
  return names as string[];
}

function checkNormalization(value: unknown, channels: number): { mean: number[]; std: number[] } {
  const ok =
    isRecord(value) &&
    Array.isArray(value.mean) &&
    Array.isArray(value.std) &&
    value.mean.every((m) => Number.isFinite(m)) &&
    value.std.every((s) => Number.isFinite(s) && (s as number) > 0);
  if (!ok) throw new RangeError(`normalization must be { mean: [finite numbers], std: [positive numbers] }, got ${JSON.stringify(value)?.slice(0, 200)}`);
  const { mean, std } = value as { mean: number[]; std: number[] };
  if (mean.length !== channels || std.length !== channels) {
    throw new RangeError(`normalization has ${mean.length} means and ${std.length} stds; the network takes ${channels} input channels`);
  }
  return { mean: [...mean], std: [...std] };
}

/** Names and shapes laid out back to back (as a ParameterArena lays them out). */
function tableOf(specs: ReadonlyArray<{ name: string; shape: readonly number[] }>): { entries: CheckpointParameterEntry[]; size: number } {
  let offset = 0;
  const entries = specs.map((p) => {
    const size = p.shape.reduce((a, b) => a * b, 1);
    const entry = { name: p.name, shape: p.shape.slice(), offset, size };
    offset += size;
    return entry;
  });
  return { entries, size: offset };
}

/** The network's parameter and buffer tables, from the built model (layers hold no values until bound). */
function networkTables(spec: ModelSpec): Pick<ModelDescription, 'parameters' | 'size' | 'buffers' | 'bufferSize'> {
  let model;
  try {
    model = buildModel(spec);
  } catch (err) {
    throw new RangeError(`modelSpec does not describe a network this convoy builds: ${(err as Error).message}`);
  }
  const parameters = tableOf(model.parameterSpecs());
  const buffers = tableOf(model.bufferSpecs());
  return { parameters: parameters.entries, size: parameters.size, buffers: buffers.entries, bufferSize: buffers.size };
}

/**
 * Checks the self-description fields of a payload (modelSpec, classNames, resolution,
 * normalization) and derives the network's parameter table. Throws a RangeError naming the field.
 */
export function checkModelDescription(body: Record<string, unknown>): ModelDescription {
  const modelSpec = checkModelSpec(body.modelSpec);
  const classNames = checkClassNames(body.classNames, modelSpec.classes);
  const input = modelInputOf(modelSpec);
  const where = modelSpec.kind === 'layers' ? 'modelSpec.input.resolution' : 'modelSpec.resolution';
  if (body.resolution !== input.resolution) {
    throw new RangeError(`resolution ${JSON.stringify(body.resolution)} differs from ${where} ${input.resolution}`);
  }
  const normalization = checkNormalization(body.normalization, input.channels);
  return { modelSpec, classNames, resolution: input.resolution, normalization, ...networkTables(modelSpec) };
}


function describeEntry(e: CheckpointParameterEntry): string {
  return `'${e.name}' shape [${e.shape.join(', ')}] at offset ${e.offset}, ${e.size} values`;
}

function sameEntry(a: unknown, b: CheckpointParameterEntry): boolean {
  if (!isRecord(a)) return false;
  return (
    a.name === b.name &&
    Array.isArray(a.shape) &&
    a.shape.length === b.shape.length &&
    a.shape.every((d, i) => d === b.shape[i]) &&
    a.offset === b.offset &&
    a.size === b.size
  );
}

/** What a file holds, as sizes only (bytes are not looked at). */
export interface StoredArrays {
  parameters: unknown;
  /** Byte length of params, or whatever the file has there instead of binary data. */
  paramsBytes: unknown;
  /** The buffer table, and the byte length of the buffer values (as paramsBytes). */
  buffers: unknown;
  buffersBytes: unknown;
  optimizerName: string;
  optimizerStateBytes: Record<string, unknown>;
  /** config.optimizer, when the config names one. */
  configOptimizer: unknown;
}

const floats = (bytes: unknown) => (typeof bytes === 'number' ? `${bytes} bytes` : `no binary data (${typeof bytes})`);

/** The first way a stored table and its bytes disagree with the network's table, as a sentence; null when they agree. */
function tableMismatch(what: 'parameter' | 'buffer', stored: unknown, bytes: unknown, expected: readonly CheckpointParameterEntry[], size: number): string | null {
  if (!Array.isArray(stored)) return `the ${what} table is missing`;
  const table = stored as unknown[];
  const count = Math.min(table.length, expected.length);
  for (let i = 0; i < count; i++) {
    if (!sameEntry(table[i], expected[i])) {
      const entry = table[i];
      const found = isRecord(entry) && Array.isArray(entry.shape) ? describeEntry(entry as unknown as CheckpointParameterEntry) : JSON.stringify(entry);
      return `${what} table entry ${i} is ${found}; the network has ${describeEntry(expected[i])}`;
    }
  }
  if (table.length !== expected.length) {
    return `the ${what} table has ${table.length} entries; the network has ${expected.length}` +
      (table.length > expected.length ? ` (extra: ${JSON.stringify(table[count])?.slice(0, 120)})` : ` (missing: ${describeEntry(expected[count])})`);
  }
  const values = what === 'parameter' ? 'params' : 'buffers';
  if (bytes !== 4 * size) return `${values} hold ${floats(bytes)}; the network has ${size} float32 values (${4 * size} bytes)`;
  return null;
}

/**
 * The first way a file's parameter table, parameter bytes, buffer table, buffer bytes or optimizer
 * state disagree with the network of its description, as a sentence; null when everything agrees.
 */
export function modelMismatch(model: ModelDescription, stored: StoredArrays): string | null {
  const tables =
    tableMismatch('parameter', stored.parameters, stored.paramsBytes, model.parameters, model.size) ??
    tableMismatch('buffer', stored.buffers, stored.buffersBytes, model.buffers, model.bufferSize);
  if (tables) return tables;
  const knownOptimizer = (OPTIMIZERS as readonly string[]).includes(stored.optimizerName);
  const expectedState = knownOptimizer ? optimizerStateNames(optimizerSpecFor({ ...DEFAULT_RUN_CONFIG, optimizer: stored.optimizerName as OptimizerName })) : null;
  if (!expectedState) return `optimizer '${stored.optimizerName}' is not one this convoy knows (sgd, adamw)`;
  if (typeof stored.configOptimizer === 'string' && stored.configOptimizer !== stored.optimizerName) {
    return `the optimizer state is ${stored.optimizerName}'s but config.optimizer is '${stored.configOptimizer}'`;
  }
  const names = Object.keys(stored.optimizerStateBytes);
  if (names.length !== expectedState.length || !expectedState.every((n) => names.includes(n))) {
    return `${stored.optimizerName} keeps state arrays ${expectedState.join(', ')}; the file has ${names.join(', ') || 'none'}`;
  }
  for (const name of expectedState) {
    const bytes = stored.optimizerStateBytes[name];
    if (bytes !== 4 * model.size) return `optimizer state '${name}' holds ${floats(bytes)}; the network has ${model.size} float32 values (${4 * model.size} bytes)`;
  }
  return null;
}

/** The first non-finite value of `values` in a table's terms ("'layers.1.running_var'[3] is NaN"); null when all are finite. */
export function firstNonFinite(values: Float32Array, table: readonly CheckpointParameterEntry[]): string | null {
  for (let i = 0; i < values.length; i++) {
    if (Number.isFinite(values[i])) continue;
    const entry = table.find((e) => i >= e.offset && i < e.offset + e.size);
    return entry ? `'${entry.name}'[${i - entry.offset}] is ${values[i]}` : `value ${i} is ${values[i]}`;
  }
  return null;
}
