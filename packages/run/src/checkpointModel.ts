import { MAX_RESOLUTION } from '@convoy/data';
import { buildModel, MAX_RECIPE_WIDTH, optimizerStateNames, type ModelSpec } from '@convoy/nn';
import { DEFAULT_RUN_CONFIG, OPTIMIZERS, optimizerSpecFor, type OptimizerName } from './config';

/** Where a parameter lives inside the flat arena (floats, not bytes). */
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
}

/** Upper bounds for a model spec read from a file; larger values are refused as absurd before anything is built. */
export const MAX_CHECKPOINT_CLASSES = 100_000;
export const MAX_CHECKPOINT_CHANNELS = 4;

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

function checkModelSpec(spec: unknown): ModelSpec {
  if (!isRecord(spec)) throw new RangeError(`modelSpec is missing or not a map (got ${JSON.stringify(spec)})`);
  if (spec.kind !== 'recipe') throw new RangeError(`modelSpec.kind ${JSON.stringify(spec.kind)} is not a model this convoy builds (expected "recipe")`);
  const unknown = Object.keys(spec).filter((k) => !['kind', 'resolution', 'classes', 'width', 'inChannels'].includes(k));
  if (unknown.length > 0) throw new RangeError(`modelSpec has fields this convoy does not know: ${unknown.join(', ')}`);
  const checked: ModelSpec = {
    kind: 'recipe',
    resolution: integerIn('modelSpec.resolution', spec.resolution, 8, MAX_RESOLUTION),
    classes: integerIn('modelSpec.classes', spec.classes, 1, MAX_CHECKPOINT_CLASSES),
    width: integerIn('modelSpec.width', spec.width, 1, MAX_RECIPE_WIDTH),
  };
  if (spec.inChannels !== undefined) checked.inChannels = integerIn('modelSpec.inChannels', spec.inChannels, 1, MAX_CHECKPOINT_CHANNELS);
  return checked;
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

/** The network's parameter table: names and shapes from the built model, offsets back to back (as the parameter arena lays them out). */
function parameterTable(spec: ModelSpec): { parameters: CheckpointParameterEntry[]; size: number } {
  let offset = 0;
  const parameters = buildModel(spec)
    .parameterSpecs()
    .map((p) => {
      const size = p.shape.reduce((a, b) => a * b, 1);
      const entry = { name: p.name, shape: p.shape.slice(), offset, size };
      offset += size;
      return entry;
    });
  return { parameters, size: offset };
}

/**
 * Checks the self-description fields of a payload (modelSpec, classNames, resolution,
 * normalization) and derives the network's parameter table. Throws a RangeError naming the field.
 */
export function checkModelDescription(body: Record<string, unknown>): ModelDescription {
  const modelSpec = checkModelSpec(body.modelSpec);
  const classNames = checkClassNames(body.classNames, modelSpec.classes);
  if (body.resolution !== modelSpec.resolution) {
    throw new RangeError(`resolution ${JSON.stringify(body.resolution)} differs from modelSpec.resolution ${modelSpec.resolution}`);
  }
  const normalization = checkNormalization(body.normalization, modelSpec.inChannels ?? 3);
  return { modelSpec, classNames, resolution: modelSpec.resolution, normalization, ...parameterTable(modelSpec) };
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
  optimizerName: string;
  optimizerStateBytes: Record<string, unknown>;
  /** config.optimizer, when the config names one. */
  configOptimizer: unknown;
}

/**
 * The first way a file's parameter table, parameter bytes or optimizer state disagree with the
 * network of its description, as a sentence; null when everything agrees.
 */
export function modelMismatch(model: ModelDescription, stored: StoredArrays): string | null {
  if (!Array.isArray(stored.parameters)) return 'the parameter table is missing';
  const table = stored.parameters as unknown[];
  const count = Math.min(table.length, model.parameters.length);
  for (let i = 0; i < count; i++) {
    if (!sameEntry(table[i], model.parameters[i])) {
      const entry = table[i];
      const found = isRecord(entry) && Array.isArray(entry.shape) ? describeEntry(entry as unknown as CheckpointParameterEntry) : JSON.stringify(entry);
      return `parameter table entry ${i} is ${found}; the network has ${describeEntry(model.parameters[i])}`;
    }
  }
  if (table.length !== model.parameters.length) {
    return `the parameter table has ${table.length} entries; the network has ${model.parameters.length}` +
      (table.length > model.parameters.length ? ` (extra: ${JSON.stringify(table[count])?.slice(0, 120)})` : ` (missing: ${describeEntry(model.parameters[count])})`);
  }
  const floats = (bytes: unknown) => (typeof bytes === 'number' ? `${bytes} bytes` : `no binary data (${typeof bytes})`);
  if (stored.paramsBytes !== 4 * model.size) return `params hold ${floats(stored.paramsBytes)}; the network has ${model.size} float32 values (${4 * model.size} bytes)`;
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
