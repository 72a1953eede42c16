import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encode } from '@msgpack/msgpack';
import {
  CHECKPOINT_FORMAT, CheckpointError, CheckpointState, decodeCheckpoint, encodeCheckpoint, loadCheckpoint, saveCheckpoint,
} from '../src/checkpoint';

function sampleState(): CheckpointState {
  const params = Float32Array.from({ length: 10 }, (_, i) => i * 0.5 - 2);
  return {
    config: { lr: 0.05, epochs: 3 },
    modelSpec: { kind: 'recipe', resolution: 32, classes: 10, width: 4 },
    parameters: [
      { name: 'a.weight', shape: [2, 3], offset: 0, size: 6 },
      { name: 'a.bias', shape: [4], offset: 6, size: 4 },
    ],
    params,
    optimizer: { name: 'sgd', state: { momentumBuffer: Float32Array.from(params, (v) => v / 10) } },
    step: 17,
    epoch: 2,
    stepInEpoch: 3,
    rng: { seed: 1, state: [1, 2, 3, 4] },
    summary: { testAccuracy: 0.5 },
    createdAt: '2026-01-01T00:00:00.000Z',
  };
}

describe('checkpoints', () => {
  const dir = mkdtempSync(join(tmpdir(), 'convoy-ckpt-'));

  it('round-trips every field exactly', () => {
    const state = sampleState();
    const back = decodeCheckpoint(encodeCheckpoint(state));
    expect(back).toEqual(state);
    expect(back.params).toBeInstanceOf(Float32Array);
  });

  it('writes atomically (no temporary file left) and reads back from a directory', () => {
    saveCheckpoint(join(dir, 'latest.msgpack'), sampleState());
    expect(readdirSync(dir)).toEqual(['latest.msgpack']);
    const { path, state } = loadCheckpoint(dir);
    expect(path).toBe(join(dir, 'latest.msgpack'));
    expect(state.step).toBe(17);
  });

  it('detects a corrupted payload by its checksum', () => {
    const bytes = encodeCheckpoint(sampleState());
    const corrupted = bytes.slice();
    corrupted[corrupted.length - 20] ^= 0xff; // inside the payload (params/optimizer bytes come late)
    expect(() => decodeCheckpoint(corrupted, 'c.msgpack')).toThrow(CheckpointError);
    expect(() => decodeCheckpoint(corrupted, 'c.msgpack')).toThrow(/c\.msgpack: checksum mismatch .* the file is corrupted/);
  });

  it('detects truncation, emptiness and foreign files with clear messages', () => {
    const bytes = encodeCheckpoint(sampleState());
    const file = join(dir, 'truncated.msgpack');
    writeFileSync(file, bytes.subarray(0, Math.floor(bytes.length / 2)));
    expect(() => loadCheckpoint(file)).toThrow(/truncated\.msgpack: cannot be decoded .*the file is truncated or is not a convoy checkpoint/);
    expect(() => decodeCheckpoint(new Uint8Array(0), 'e')).toThrow(/e: the file is empty/);
    expect(() => decodeCheckpoint(encode({ hello: 'world' }), 'x')).toThrow(/x: not a convoy checkpoint/);
    expect(() => decodeCheckpoint(encode({ format: CHECKPOINT_FORMAT, version: 99 }), 'v')).toThrow(/version 99 is not supported; this convoy reads version 1/);
    expect(() => loadCheckpoint(join(dir, 'nope.msgpack'))).toThrow(/nope\.msgpack does not exist/);
  });

  it('rejects a payload whose arrays disagree in length', () => {
    const state = sampleState();
    state.optimizer.state.momentumBuffer = new Float32Array(3);
    expect(() => decodeCheckpoint(encodeCheckpoint(state), 'm')).toThrow(/optimizer state 'momentumBuffer' has 3 values, params have 10/);
  });

  it('stores parameters as little-endian float32 bytes readable by other tools', () => {
    const file = join(dir, 'layout.msgpack');
    saveCheckpoint(file, sampleState());
    const outer = require('@msgpack/msgpack').decode(readFileSync(file)) as { payload: Uint8Array; sha256: string };
    const inner = require('@msgpack/msgpack').decode(outer.payload) as { params: Uint8Array };
    const view = new DataView(inner.params.buffer, inner.params.byteOffset, inner.params.byteLength);
    expect(view.getFloat32(4 * 9, true)).toBe(2.5);
    expect(outer.sha256).toMatch(/^[0-9a-f]{64}$/);
  });
});
