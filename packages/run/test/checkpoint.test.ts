import { createHash } from 'node:crypto';
import { decode, encode } from '@msgpack/msgpack';
import { CIFAR10_CLASS_NAMES, CIFAR10_NORMALIZATION } from '@convoy/data';
import { CHECKPOINT_FORMAT, CheckpointError, CheckpointState, decodeCheckpoint, encodeCheckpoint } from '../src/checkpoint';
import { contradictoryCheckpoint, SELF_CONTRADICTIONS, TINY_LAYERS_SPEC, validCheckpoint } from './checkpointFixtures';

function sampleState(): CheckpointState {
  const state = validCheckpoint();
  state.summary = { testAccuracy: 0.5 };
  state.step = 17;
  state.epoch = 2;
  state.stepInEpoch = 3;
  return state;
}

/** node:crypto's SHA-256: an independent check that the format's checksum is the standard one. */
const sha256Hex = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

describe('checkpoint format', () => {
  it('round-trips every field exactly', () => {
    const state = sampleState();
    const back = decodeCheckpoint(encodeCheckpoint(state));
    expect(back).toEqual(state);
    expect(back.params).toBeInstanceOf(Float32Array);
  });

  it('round-trips a layer list with BatchNorm: its spec as given and its buffers, bit for bit', () => {
    const state = validCheckpoint(TINY_LAYERS_SPEC);
    expect(state.buffers.entries.map((e) => e.name)).toEqual(['layers.1.running_mean', 'layers.1.running_var', 'layers.1.num_batches_tracked']);
    const back = decodeCheckpoint(encodeCheckpoint(state));
    expect(back).toEqual(state);
    expect(back.modelSpec).toEqual(TINY_LAYERS_SPEC);
    expect(back.buffers.data).toBeInstanceOf(Float32Array);
    expect(Buffer.from(back.buffers.data.buffer).equals(Buffer.from(state.buffers.data.buffer))).toBe(true);
  });

  it('round-trips a Lookahead copy (parameters and buffers), and refuses one of another size or with a non-finite value', () => {
    const state = validCheckpoint(TINY_LAYERS_SPEC);
    state.lookahead = { params: state.params.map((v) => v * 0.5), buffers: state.buffers.data.map((v) => v + 1) };
    const back = decodeCheckpoint(encodeCheckpoint(state));
    expect(back).toEqual(state);
    expect(back.lookahead?.params).toBeInstanceOf(Float32Array);
    expect(decodeCheckpoint(encodeCheckpoint(validCheckpoint(TINY_LAYERS_SPEC))).lookahead).toBeUndefined();
    const short = { ...state, lookahead: { params: state.params.subarray(1), buffers: state.buffers.data } };
    expect(() => decodeCheckpoint(encodeCheckpoint(short), 'x.msgpack')).toThrow(
      new RegExp(`x\\.msgpack: the lookahead copy holds ${state.params.length - 1} parameters and ${state.buffers.data.length} buffer values; the network has ${state.params.length} and ${state.buffers.data.length}`),
    );
    const nan = { ...state, lookahead: { params: state.params.map((v, i) => (i === 2 ? Number.NaN : v)), buffers: state.buffers.data } };
    expect(() => decodeCheckpoint(encodeCheckpoint(nan))).toThrow(/lookahead parameter '.*'\[\d+\] is NaN/);
  });

  it('reads a version 2 file (the recipe, no buffers) with an empty buffer table', () => {
    const v3 = validCheckpoint();
    const { buffers: _b, ...v2 } = v3;
    const payload = encode({ ...v2, params: new Uint8Array(v2.params.buffer), optimizer: { name: 'sgd', state: { momentumBuffer: new Uint8Array(v2.optimizer.state.momentumBuffer.buffer) } } });
    const read = decodeCheckpoint(encode({ format: CHECKPOINT_FORMAT, version: 2, sha256: sha256Hex(payload), payload }), 'v2.msgpack');
    expect(read).toEqual(v3);
    expect(read.buffers).toEqual({ entries: [], data: new Float32Array(0) });
  });

  it('refuses a version 2 file that claims a layer list (version 2 could not store its buffers)', () => {
    const v3 = validCheckpoint(TINY_LAYERS_SPEC);
    const { buffers: _b, ...v2 } = v3;
    const payload = encode({ ...v2, params: new Uint8Array(v2.params.buffer), optimizer: { name: 'sgd', state: { momentumBuffer: new Uint8Array(v2.optimizer.state.momentumBuffer.buffer) } } });
    expect(() => decodeCheckpoint(encode({ format: CHECKPOINT_FORMAT, version: 2, sha256: sha256Hex(payload), payload }), 'v2.msgpack')).toThrow(
      /^v2\.msgpack: .*\bbuffer table\b.*\b0\b.*\b3\b.*'layers\.1\.running_mean'/,
    );
  });

  it('detects a corrupted payload by its checksum', () => {
    const bytes = encodeCheckpoint(sampleState());
    const corrupted = bytes.slice();
    corrupted[corrupted.length - 20] ^= 0xff; // inside the payload (params/optimizer bytes come late)
    expect(() => decodeCheckpoint(corrupted, 'c.msgpack')).toThrow(CheckpointError);
    expect(() => decodeCheckpoint(corrupted, 'c.msgpack')).toThrow(/^c\.msgpack: .*\bchecksum\b.*\bcorrupted\b/);
  });

  it('detects truncation, emptiness and foreign files with clear messages', () => {
    const bytes = encodeCheckpoint(sampleState());
    expect(() => decodeCheckpoint(bytes.subarray(0, Math.floor(bytes.length / 2)), 't.msgpack')).toThrow(
      /^t\.msgpack: .*\btruncated\b/,
    );
    expect(() => decodeCheckpoint(new Uint8Array(0), 'e')).toThrow(/^e: .*\bempty\b/);
    expect(() => decodeCheckpoint(encode({ hello: 'world' }), 'x')).toThrow(/^x: .*\bnot a convoy checkpoint\b/);
    expect(() => decodeCheckpoint(encode({ format: CHECKPOINT_FORMAT, version: 99 }), 'v')).toThrow(/^v: .*\bversion 99\b.*\b1 to 3\b/);
  });

  it.each(SELF_CONTRADICTIONS.map((c) => [c.kind, c.message]))('refuses %s, naming the file and the first mismatch', (kind, message) => {
    const bytes = encodeCheckpoint(contradictoryCheckpoint(kind));
    expect(() => decodeCheckpoint(bytes, 'bad.msgpack')).toThrow(CheckpointError);
    expect(() => decodeCheckpoint(bytes, 'bad.msgpack')).toThrow(new RegExp(`^bad\\.msgpack: .*${message.source}`));
  });

  it('reads a version 1 file (CIFAR-10 only) as a CIFAR-10 checkpoint: the ten names (or --classes), 32 x 32, the standard normalisation', () => {
    const spec = { kind: 'recipe' as const, resolution: 32, classes: 2, width: 2 };
    const v2 = validCheckpoint(spec, ['cat', 'dog']);
    const { classNames: _c, resolution: _r, normalization: _n, ...v1 } = { ...v2, config: { ...v2.config, classes: 'cat,dog' } };
    const payload = encode({ ...v1, params: new Uint8Array(v1.params.buffer), optimizer: { name: 'sgd', state: { momentumBuffer: new Uint8Array(v1.optimizer.state.momentumBuffer.buffer) } } });
    const file = encode({ format: CHECKPOINT_FORMAT, version: 1, sha256: sha256Hex(payload), payload });
    const read = decodeCheckpoint(file, 'old.msgpack');
    expect(read.classNames).toEqual(['cat', 'dog']);
    expect(read.resolution).toBe(32);
    expect(read.normalization).toEqual({ mean: [...CIFAR10_NORMALIZATION.mean], std: [...CIFAR10_NORMALIZATION.std] });
    expect(read.params).toEqual(v2.params);

    const allTen = validCheckpoint({ ...spec, classes: 10 }, [...CIFAR10_CLASS_NAMES]);
    const { classNames: _c2, resolution: _r2, normalization: _n2, ...v1AllTen } = allTen;
    const payload10 = encode({ ...v1AllTen, params: new Uint8Array(v1AllTen.params.buffer), optimizer: { name: 'sgd', state: { momentumBuffer: new Uint8Array(v1AllTen.optimizer.state.momentumBuffer.buffer) } } });
    const file10 = encode({ format: CHECKPOINT_FORMAT, version: 1, sha256: sha256Hex(payload10), payload: payload10 });
    expect(decodeCheckpoint(file10, 'old10.msgpack').classNames).toEqual([...CIFAR10_CLASS_NAMES]);
  });

  it('stores parameters as little-endian float32 bytes under the standard SHA-256 of the payload, readable by other tools', () => {
    const outer = decode(encodeCheckpoint(sampleState())) as { payload: Uint8Array; sha256: string };
    const inner = decode(outer.payload) as { params: Uint8Array };
    const view = new DataView(inner.params.buffer, inner.params.byteOffset, inner.params.byteLength);
    expect(view.getFloat32(4 * 9, true)).toBe(sampleState().params[9]);
    expect(outer.sha256).toBe(sha256Hex(outer.payload));
  });
});
