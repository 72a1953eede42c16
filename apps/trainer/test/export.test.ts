import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { normalizationTable } from '@convoy/data';
import { buildModel, createParameters, type RecipeModelSpec } from '@convoy/nn';
import { Rng, Tensor } from '@convoy/tensor';
import { saveCheckpoint } from '../src/checkpoint';
import { createProgram } from '../src/cli';
import { exportOnnx, exportSafetensors } from '../src/commands/export';
import { TINY_LAYERS_SPEC, validCheckpoint } from '../../../packages/run/test/checkpointFixtures';
import type { TensorTable } from '../src/export/stateDict';
import { onnxruntimeRun, pytorchRun } from './exportChecks';
import { convoyLogits, drawnImages, largestDifference, pythonProblem } from './exportNetwork';

/** Made by tools/pytorch/make_export_fixture.py: PyTorch's logits after load_state_dict of an exported file. */
const fixture = JSON.parse(readFileSync(join(__dirname, 'fixtures', 'export-recipe.json'), 'utf8')) as {
  seed: number;
  spec: RecipeModelSpec;
  classNames: string[];
  normalization: { mean: number[]; std: number[] };
  images: { count: number };
  export: { bytes: number; sha256: string };
  logits: number[][];
};

/** The header of a safetensors file (8-byte little-endian length, then JSON). */
function safetensorsHeader(bytes: Uint8Array): Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }> & { __metadata__: Record<string, string> } {
  const length = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  return JSON.parse(Buffer.from(bytes.subarray(8, 8 + length)).toString('utf8'));
}

describe('export to PyTorch (safetensors)', () => {
  const model = buildModel(fixture.spec);
  const { params } = createParameters(model, { seed: fixture.seed });
  const state = {
    modelSpec: fixture.spec,
    classNames: fixture.classNames,
    resolution: fixture.spec.resolution,
    normalization: fixture.normalization,
    parameters: params.entries.map((e) => ({ name: e.name, shape: e.shape.slice(), offset: e.offset, size: e.size })),
    params: params.data,
  };

  it('writes the very bytes PyTorch loaded with load_state_dict(strict=True) in the fixture', () => {
    const bytes = exportSafetensors(state);
    expect(bytes.length).toBe(fixture.export.bytes);
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(fixture.export.sha256);
    const header = safetensorsHeader(bytes);
    expect(header.__metadata__).toEqual({
      format: 'pt',
      producer: 'convoy',
      modelSpec: JSON.stringify(fixture.spec),
      classNames: JSON.stringify(fixture.classNames),
      resolution: '32',
      normalization: JSON.stringify(fixture.normalization),
    });
    expect(Object.keys(header).filter((k) => k !== '__metadata__')).toEqual(state.parameters.map((p) => p.name));
    const classifier = params.entries.find((e) => e.name === 'classifier.weight');
    expect(header['classifier.weight']).toEqual({ dtype: 'F32', shape: [10, 16], data_offsets: [4 * classifier!.offset, 4 * (classifier!.offset + 160)] });
  });

  it("gives PyTorch's logits (within 1e-4) on the fixture's images, normalised as in training", () => {
    const r = fixture.spec.resolution;
    const rng = Rng.forKey(fixture.seed, 1);
    const pixels = Uint8Array.from({ length: fixture.images.count * 3 * r * r }, () => rng.int(256));
    const table = normalizationTable(fixture.normalization);
    const plane = r * r;
    const input = Float32Array.from(pixels, (v, i) => table[Math.floor(i / plane) % 3 * 256 + v]);
    const logits = model.forward(new Tensor(input, [fixture.images.count, 3, r, r]));
    const expected = fixture.logits.flat();
    let worst = 0;
    for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(logits.data[i] - expected[i]));
    expect(logits.data.length).toBe(expected.length);
    expect(worst).toBeLessThan(1e-4);
  });

  it('convoy export writes that file beside the checkpoint or to -o, atomically', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'convoy-export-'));
    const checkpoint = validCheckpoint();
    saveCheckpoint(join(dir, 'latest.msgpack'), checkpoint);
    await createProgram().parseAsync(['node', 'convoy', 'export', dir]);
    expect(readFileSync(join(dir, 'latest.safetensors'))).toEqual(Buffer.from(exportSafetensors(checkpoint)));
    await createProgram().parseAsync(['node', 'convoy', 'export', join(dir, 'latest.msgpack'), '--format', 'safetensors', '-o', join(dir, 'm.safetensors')]);
    expect(readFileSync(join(dir, 'm.safetensors'))).toEqual(Buffer.from(exportSafetensors(checkpoint)));
  });

  it('convoy export --format onnx writes it beside the checkpoint (.onnx) or to -o, atomically', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'convoy-export-'));
    const checkpoint = validCheckpoint();
    saveCheckpoint(join(dir, 'latest.msgpack'), checkpoint);
    await createProgram().parseAsync(['node', 'convoy', 'export', dir, '--format', 'onnx']);
    expect(readFileSync(join(dir, 'latest.onnx'))).toEqual(Buffer.from(exportOnnx(checkpoint)));
    await createProgram().parseAsync(['node', 'convoy', 'export', dir, '--format', 'onnx', '-o', join(dir, 'm.onnx')]);
    expect(readFileSync(join(dir, 'm.onnx'))).toEqual(Buffer.from(exportOnnx(checkpoint)));
  });
});

describe('convoy export of a layer-list checkpoint (BatchNorm buffers in the file)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'convoy-export-'));
  const checkpoint = validCheckpoint(TINY_LAYERS_SPEC);
  saveCheckpoint(join(dir, 'latest.msgpack'), checkpoint);
  const images = drawnImages(6, 3, 8, 9);

  /** The checkpoint's network in eval mode, its parameters and buffers copied in by name. */
  function checkpointNetwork() {
    const model = buildModel(checkpoint.modelSpec).eval();
    const { params, buffers } = createParameters(model);
    const copy = (to: TensorTable, from: TensorTable) => {
      for (const e of to.entries) {
        const source = from.entries.find((f) => f.name === e.name)!;
        to.data.set(from.data.subarray(source.offset, source.offset + source.size), e.offset);
      }
    };
    copy(params, { entries: checkpoint.parameters, data: checkpoint.params });
    copy(buffers, checkpoint.buffers);
    return model;
  }

  it('writes the running statistics under their state_dict names', async () => {
    await createProgram().parseAsync(['node', 'convoy', 'export', dir]);
    const bytes = readFileSync(join(dir, 'latest.safetensors'));
    const length = Number(bytes.readBigUInt64LE(0));
    const header = JSON.parse(bytes.subarray(8, 8 + length).toString('utf8')) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
    const mean = checkpoint.buffers.entries.find((e) => e.name === 'layers.1.running_mean')!;
    const at = 8 + length + header['layers.1.running_mean'].data_offsets[0];
    expect(new Float32Array(bytes.buffer.slice(bytes.byteOffset + at, bytes.byteOffset + at + 16))).toEqual(checkpoint.buffers.data.subarray(mean.offset, mean.offset + 4));
    expect(header['layers.1.num_batches_tracked']).toMatchObject({ dtype: 'I64', shape: [] });
  });

  (pythonProblem(['torch', 'numpy']) ? it.skip : it)("PyTorch's logits from that file equal convoy's eval of the checkpoint within 1e-4", async () => {
    await createProgram().parseAsync(['node', 'convoy', 'export', dir, '-o', join(dir, 'for-torch.safetensors')]);
    const ours = convoyLogits(checkpointNetwork(), images, checkpoint.normalization, 8);
    expect(largestDifference(ours, pytorchRun(readFileSync(join(dir, 'for-torch.safetensors')), images).logits)).toBeLessThan(1e-4);
  });

  it("--format onnx: onnxruntime's logits equal convoy's eval of the checkpoint within 1e-4", async () => {
    await createProgram().parseAsync(['node', 'convoy', 'export', join(dir, 'latest.msgpack'), '--format', 'onnx']);
    const theirs = onnxruntimeRun(readFileSync(join(dir, 'latest.onnx')), images, checkpoint);
    expect(theirs.dims).toEqual([6, 2]);
    expect(largestDifference(convoyLogits(checkpointNetwork(), images, checkpoint.normalization, 8), theirs.logits)).toBeLessThan(1e-4);
  });
});
