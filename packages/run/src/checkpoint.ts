import { decode, encode } from '@msgpack/msgpack';
import { sha256 } from '@noble/hashes/sha2';
import { bytesToHex } from '@noble/hashes/utils';
import { CIFAR10_NORMALIZATION } from '@convoy/data';
import type { ModelSpec } from '@convoy/nn';
import { checkModelDescription, firstNonFinite, isRecord, modelMismatch, type CheckpointParameterEntry } from './checkpointModel';
import { cifar10ClassNamesFor } from './config';

/** Written into every checkpoint; readers refuse files without it. */
export const CHECKPOINT_FORMAT = 'convoy-checkpoint';
/**
 * Bumped whenever the payload layout changes incompatibly. Version 2 added `classNames`,
 * `resolution` and `normalization`; version 3 any network (a layer list as `modelSpec`) and its
 * `buffers`. Older files are migrated on reading: version 1 held CIFAR-10 runs only, and versions
 * 1 and 2 only the recipe network, which has no buffers.
 */
export const CHECKPOINT_VERSION = 3;

/** A table of named tensors and their values, back to back in one array (a checkpoint's buffers). */
export interface CheckpointTensors {
  entries: CheckpointParameterEntry[];
  data: Float32Array;
}

/** Everything needed to continue a run exactly, or to evaluate its parameters. */
export interface CheckpointState {
  /** The run's configuration (plain JSON): what must not change when resuming. */
  config: Record<string, unknown>;
  /** The model's JSON spec, as given to nn's buildModel (the recipe's, or a layer list with its defaults filled in): readers build the network from it. */
  modelSpec: ModelSpec;
  /** The name of each output of the network, in output (label) order; as many as modelSpec.classes. */
  classNames: string[];
  /** Side R of the square input: images are resized (smaller side to R) and centre-cropped to R x R. The modelSpec's input resolution. */
  resolution: number;
  /** Per-channel pixel normalisation the network was trained with: x -> (pixel/255 - mean[c]) / std[c]. */
  normalization: { mean: number[]; std: number[] };
  /** Layout of `params` (and of every optimizer state array). */
  parameters: CheckpointParameterEntry[];
  params: Float32Array;
  /** The network's buffers as it reports them (BatchNorm's running_mean, running_var, num_batches_tracked); empty without BatchNorm. */
  buffers: CheckpointTensors;
  optimizer: { name: string; state: Record<string, Float32Array> };
  /** A Lookahead run's slow copy: one value per parameter (laid out as `params`) and per buffer value (as `buffers`). */
  lookahead?: { params: Float32Array; buffers: Float32Array };
  /** Optimizer steps completed so far (global, over all epochs). */
  step: number;
  /** The epoch in progress (0-based); equals the epoch count once the run is done. */
  epoch: number;
  /** Batches of `epoch` already trained on. */
  stepInEpoch: number;
  /** The coordinator's random generator: its seed and its state after parameter initialisation. */
  rng: { seed: number; state: number[] };
  /** Free-form summary (last test accuracy, wall time ...); not needed to resume. */
  summary: Record<string, unknown>;
  createdAt: string;
}

/** A checkpoint file that cannot be used; the message says which file and why. */
export class CheckpointError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CheckpointError';
  }
}

/** SHA-256 as hex, synchronously in Node and browsers alike (WebCrypto's digest is asynchronous; this code is not). */
function sha256Hex(bytes: Uint8Array): string {
  return bytesToHex(sha256(bytes));
}

/** Float32 values as little-endian bytes (a view when the platform is little-endian, as all Node targets are). */
function floatsToBytes(values: Float32Array): Uint8Array {
  return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
}

function bytesToFloats(bytes: unknown, what: string, file: string): Float32Array {
  if (!(bytes instanceof Uint8Array)) throw new CheckpointError(`${file}: ${what} should be binary float32 data, got ${typeof bytes}`);
  if (bytes.byteLength % 4 !== 0) throw new CheckpointError(`${file}: ${what} has ${bytes.byteLength} bytes, not a multiple of 4 (float32)`);
  // Copy: msgpack's output may be unaligned, and the caller owns the result.
  const out = new Float32Array(bytes.byteLength / 4);
  new Uint8Array(out.buffer).set(bytes);
  return out;
}

/** Encodes a checkpoint: the outer envelope { format, version, sha256, payload } with the state as the msgpack payload. */
export function encodeCheckpoint(state: CheckpointState): Uint8Array {
  const optimizerState: Record<string, Uint8Array> = {};
  for (const [name, values] of Object.entries(state.optimizer.state)) optimizerState[name] = floatsToBytes(values);
  const payload = encode({
    config: state.config,
    modelSpec: state.modelSpec,
    classNames: state.classNames,
    resolution: state.resolution,
    normalization: { mean: [...state.normalization.mean], std: [...state.normalization.std] },
    parameters: state.parameters,
    params: floatsToBytes(state.params),
    buffers: { entries: state.buffers.entries, data: floatsToBytes(state.buffers.data) },
    optimizer: { name: state.optimizer.name, state: optimizerState },
    ...(state.lookahead ? { lookahead: { params: floatsToBytes(state.lookahead.params), buffers: floatsToBytes(state.lookahead.buffers) } } : {}),
    step: state.step,
    epoch: state.epoch,
    stepInEpoch: state.stepInEpoch,
    rng: state.rng,
    summary: state.summary,
    createdAt: state.createdAt,
  });
  const sha256 = sha256Hex(payload);
  return encode({ format: CHECKPOINT_FORMAT, version: CHECKPOINT_VERSION, sha256, payload });
}


/** Decodes and verifies a checkpoint; `file` names it in errors. Throws CheckpointError on any defect. */
export function decodeCheckpoint(bytes: Uint8Array, file = 'checkpoint'): CheckpointState {
  if (bytes.byteLength === 0) throw new CheckpointError(`${file}: the file is empty (an interrupted write?); use an earlier checkpoint`);
  let envelope: unknown;
  try {
    envelope = decode(bytes);
  } catch (err) {
    throw new CheckpointError(
      `${file}: cannot be decoded (${(err as Error).message}); the file is truncated or is not a convoy checkpoint`,
    );
  }
  if (!isRecord(envelope) || envelope.format !== CHECKPOINT_FORMAT) {
    throw new CheckpointError(`${file}: not a convoy checkpoint (expected format '${CHECKPOINT_FORMAT}')`);
  }
  const version = envelope.version;
  if (version !== 1 && version !== 2 && version !== CHECKPOINT_VERSION) {
    throw new CheckpointError(
      `${file}: checkpoint format version ${String(version)} is not supported; this convoy reads versions 1 to ${CHECKPOINT_VERSION}`,
    );
  }
  const payload = envelope.payload;
  if (!(payload instanceof Uint8Array) || typeof envelope.sha256 !== 'string') {
    throw new CheckpointError(`${file}: the checkpoint has no payload or no checksum`);
  }
  const actual = sha256Hex(payload);
  if (actual !== envelope.sha256) {
    throw new CheckpointError(
      `${file}: checksum mismatch (stored sha256 ${envelope.sha256.slice(0, 16)}..., computed ${actual.slice(0, 16)}...): the file is corrupted; use an earlier checkpoint`,
    );
  }
  let decoded: unknown;
  try {
    decoded = decode(payload);
  } catch (err) {
    throw new CheckpointError(`${file}: the payload cannot be decoded (${(err as Error).message})`);
  }
  if (!isRecord(decoded)) throw new CheckpointError(`${file}: the payload is not a map`);
  const body = version === CHECKPOINT_VERSION ? decoded : migrateVersion2(version === 1 ? migrateVersion1(decoded, file) : decoded);
  if (!isRecord(body.config)) throw new CheckpointError(`${file}: config section is missing`);
  for (const key of ['step', 'epoch', 'stepInEpoch'] as const) {
    if (!Number.isInteger(body[key]) || (body[key] as number) < 0) {
      throw new CheckpointError(`${file}: '${key}' should be a non-negative integer, got ${String(body[key])}`);
    }
  }
  const rng = body.rng as CheckpointState['rng'];
  if (!isRecord(rng) || typeof rng.seed !== 'number' || !Array.isArray(rng.state)) {
    throw new CheckpointError(`${file}: rng section is missing or malformed`);
  }
  const optimizer = body.optimizer;
  if (!isRecord(optimizer) || typeof optimizer.name !== 'string' || !isRecord(optimizer.state)) {
    throw new CheckpointError(`${file}: optimizer section is missing or malformed`);
  }
  // The model's self-description, then every table entry and array size against the network it
  // describes: all before a single parameter byte is copied or used.
  let described;
  try {
    described = checkModelDescription(body);
  } catch (err) {
    throw new CheckpointError(`${file}: ${(err as Error).message}`);
  }
  const optimizerBytes: Record<string, unknown> = optimizer.state;
  const buffers = isRecord(body.buffers) ? body.buffers : {};
  const byteLength = (v: unknown) => (v instanceof Uint8Array ? v.byteLength : v);
  const mismatch = modelMismatch(described, {
    parameters: body.parameters,
    paramsBytes: byteLength(body.params),
    buffers: buffers.entries,
    buffersBytes: byteLength(buffers.data),
    optimizerName: optimizer.name,
    optimizerStateBytes: Object.fromEntries(Object.entries(optimizerBytes).map(([name, v]) => [name, byteLength(v)])),
    configOptimizer: body.config.optimizer,
  });
  if (mismatch) throw new CheckpointError(`${file}: does not match the network its modelSpec describes (${JSON.stringify(described.modelSpec)}): ${mismatch}`);
  const params = bytesToFloats(body.params, 'params', file);
  const bufferValues = bytesToFloats(buffers.data, 'buffers', file);
  const optimizerState: Record<string, Float32Array> = {};
  for (const [name, value] of Object.entries(optimizerBytes)) optimizerState[name] = bytesToFloats(value, `optimizer state '${name}'`, file);
  const lookahead = lookaheadOf(body.lookahead, params.length, bufferValues.length, file);
  // A run never saves values that are not finite (a diverged step leaves the parameters untouched), so such a file was damaged or made by hand.
  const nonFinite = [
    ['parameter', firstNonFinite(params, described.parameters)],
    ['buffer', firstNonFinite(bufferValues, described.buffers)],
    ...Object.entries(optimizerState).map(([name, values]) => [`optimizer state '${name}'`, firstNonFinite(values, described.parameters)]),
    ...(lookahead ? [['lookahead parameter', firstNonFinite(lookahead.params, described.parameters)], ['lookahead buffer', firstNonFinite(lookahead.buffers, described.buffers)]] : []),
  ].find(([, found]) => found !== null);
  if (nonFinite) throw new CheckpointError(`${file}: ${nonFinite[0]} ${nonFinite[1]}; a checkpoint holds finite values only (the file is damaged): use an earlier checkpoint`);
  return {
    config: body.config,
    modelSpec: described.modelSpec,
    classNames: described.classNames,
    resolution: described.resolution,
    normalization: described.normalization,
    parameters: described.parameters,
    params,
    buffers: { entries: described.buffers, data: bufferValues },
    optimizer: { name: optimizer.name, state: optimizerState },
    ...(lookahead ? { lookahead } : {}),
    step: body.step as number,
    epoch: body.epoch as number,
    stepInEpoch: body.stepInEpoch as number,
    rng,
    summary: isRecord(body.summary) ? body.summary : {},
    createdAt: typeof body.createdAt === 'string' ? body.createdAt : '',
  };
}

/** A stored Lookahead copy, checked against the network's sizes; undefined when the file has none. */
function lookaheadOf(stored: unknown, params: number, buffers: number, file: string): { params: Float32Array; buffers: Float32Array } | undefined {
  if (stored === undefined) return undefined;
  if (!isRecord(stored)) throw new CheckpointError(`${file}: the lookahead section is malformed`);
  const copy = { params: bytesToFloats(stored.params, 'lookahead params', file), buffers: bytesToFloats(stored.buffers, 'lookahead buffers', file) };
  if (copy.params.length !== params || copy.buffers.length !== buffers) {
    throw new CheckpointError(`${file}: the lookahead copy holds ${copy.params.length} parameters and ${copy.buffers.length} buffer values; the network has ${params} and ${buffers}`);
  }
  return copy;
}

/**
 * A version 1 payload in version 2's shape. Version 1 could only train on CIFAR-10 (32 x 32, the
 * standard normalisation, `config.classes` choosing a subset of its ten classes), so the fields
 * version 2 added follow from its config; everything is then checked like any version 2 file.
 */
function migrateVersion1(body: Record<string, unknown>, file: string): Record<string, unknown> {
  const config = isRecord(body.config) ? body.config : {};
  let classNames: string[];
  try {
    classNames = cifar10ClassNamesFor({ classes: typeof config.classes === 'string' ? config.classes : null });
  } catch (err) {
    throw new CheckpointError(`${file}: version 1 checkpoint with an unusable config.classes: ${(err as Error).message}`);
  }
  return {
    ...body,
    classNames,
    resolution: 32,
    normalization: { mean: [...CIFAR10_NORMALIZATION.mean], std: [...CIFAR10_NORMALIZATION.std] },
  };
}

/**
 * A version 2 payload in version 3's shape: version 2 stored only the recipe network, which has no
 * buffers, so its buffer table is empty (and is then checked against the network like any other).
 */
function migrateVersion2(body: Record<string, unknown>): Record<string, unknown> {
  return { ...body, buffers: { entries: [], data: new Uint8Array(0) } };
}

/** The file name `--resume DIR` picks inside a checkpoint directory. */
export const LATEST_CHECKPOINT = 'latest.msgpack';

/** The checkpoint of the epoch with the best test (or validation) accuracy so far, beside latest.msgpack. */
export const BEST_CHECKPOINT = 'best.msgpack';
