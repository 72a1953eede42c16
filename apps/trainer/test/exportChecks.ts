import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CIFAR10_NORMALIZATION, normalizationTable } from '@convoy/data';
import { buildModel, createParameters, type ModelSpec } from '@convoy/nn';
import { exportOnnx, exportSafetensors } from '../src/commands/export';
import type { ExportSource } from '../src/export/source';
import {
  CIFAR10_CLASS_NAMES, convoyLogits, EVERY_LAYER_SPEC, largestDifference, PYTHON, pythonProblem, trainedLookingNetwork, type TestImages,
} from './exportNetwork';

/**
 * The export checks, run by test/exportFormats.test.ts (on CIFAR-10 test images when CIFAR10_DIR is
 * set, seeded pixels otherwise) and by e2e/export.e2e.test.ts (on real CIFAR-10 test images, always).
 */

const TOOLS = join(__dirname, '..', '..', '..', 'tools', 'pytorch');

/**
 * What a Python user does with the file alone (the docs' snippet): tools/pytorch/convoy_export.py
 * rebuilds the network from the metadata's modelSpec and load_state_dict(strict=True)-s the
 * tensors; then float64 logits of the images, normalised with the file's own metadata.
 */
const PYTHON_READER = `
import json, sys
import numpy as np, torch
sys.path.insert(0, sys.argv[1])
from convoy_export import load_convoy_export, normalise
model, meta = load_convoy_export(sys.argv[2])
r, c = meta['resolution'], len(meta['normalization']['mean'])
pixels = np.fromfile(sys.argv[3], dtype=np.uint8).reshape(-1, c, r, r)
with torch.no_grad():
    logits = model.double()(normalise(pixels, meta['normalization']).double())
state = model.state_dict()
print(json.dumps({'keys': list(state.keys()), 'dtypes': {k: str(v.dtype) for k, v in state.items()},
                  'tracked': [int(v) for k, v in state.items() if k.endswith('num_batches_tracked')],
                  'logits': logits.flatten().tolist()}))
`;

/** PyTorch's reading of a safetensors export (PYTHON_READER) and its logits for `images`. */
export function pytorchRun(bytes: Uint8Array, images: TestImages): { keys: string[]; dtypes: Record<string, string>; tracked: number[]; logits: number[] } {
  const dir = mkdtempSync(join(tmpdir(), 'convoy-export-'));
  writeFileSync(join(dir, 'model.safetensors'), bytes);
  writeFileSync(join(dir, 'pixels.u8'), images.pixels);
  const run = spawnSync(PYTHON, ['-c', PYTHON_READER, TOOLS, join(dir, 'model.safetensors'), join(dir, 'pixels.u8')], { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (run.status !== 0) throw new Error(`python failed:\n${run.stderr}`);
  return JSON.parse(run.stdout) as { keys: string[]; dtypes: Record<string, string>; tracked: number[]; logits: number[] };
}

function safetensorsHeader(bytes: Uint8Array): Record<string, { dtype: string; shape: number[] }> {
  const length = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  const header = JSON.parse(Buffer.from(bytes.subarray(8, 8 + length)).toString('utf8')) as Record<string, { dtype: string; shape: number[] }>;
  delete header.__metadata__;
  return header;
}

/** The safetensors export of a network of every layer type, rebuilt in PyTorch from the file alone and run on `images`. */
export function describeSafetensorsExport(images: TestImages): void {
  const problem = pythonProblem(['torch', 'numpy']);
  if (problem) console.log(`${problem}: the PyTorch side of the safetensors export check is not run`);
  describe('safetensors export of a layer list, rebuilt in PyTorch from the file alone', () => {
    const { model, source } = trainedLookingNetwork(EVERY_LAYER_SPEC, 11);
    const bytes = exportSafetensors(source);
    const header = safetensorsHeader(bytes);

    it('names every tensor as the state_dict, with BatchNorm buffers and num_batches_tracked as int64 scalars', () => {
      expect(Object.keys(header)).toEqual(expect.arrayContaining(['layers.0.weight', 'layers.1.weight', 'layers.1.bias', 'layers.1.running_mean', 'layers.1.running_var', 'layers.1.num_batches_tracked', 'layers.3.layers.0.weight', 'layers.3.layers.1.running_var', 'layers.6.running_mean', 'layers.17.bias']));
      expect(Object.keys(header)).not.toContain('layers.6.weight');
      expect(header['layers.1.num_batches_tracked']).toEqual({ dtype: 'I64', shape: [], data_offsets: expect.any(Array) });
      expect(header['layers.5.weight']).toEqual({ dtype: 'F32', shape: [12, 8, 3, 3], data_offsets: expect.any(Array) });
    });

    (problem ? it.skip : it)(`PyTorch's load_state_dict(strict=True) takes it, and its logits equal convoy's eval within 1e-4 on ${images.source}`, () => {
      const torch = pytorchRun(bytes, images);
      expect(Object.keys(header)).toEqual(torch.keys);
      expect(torch.dtypes['layers.1.num_batches_tracked']).toBe('torch.int64');
      expect(torch.tracked).toEqual([37, 37, 37]);
      const ours = convoyLogits(model, images, source.normalization, source.resolution);
      expect(ours.length).toBe(images.count * 10);
      // Logits of order 1, so that 1e-4 is a tight bound (a dropped or swapped BatchNorm statistic moves them by far more).
      expect(Math.max(...ours.map(Math.abs))).toBeGreaterThan(0.5);
      const worst = largestDifference(ours, torch.logits);
      console.log(`safetensors: largest logit difference from PyTorch ${worst.toExponential(2)} on ${images.source}`);
      expect(worst).toBeLessThan(1e-4);
    });
  });
}

/** onnxruntime-web's run of the model on the images, normalised as convoy normalises them (in a Node process of its own: see onnxruntimeLogits.mjs). */
export function onnxruntimeRun(bytes: Uint8Array, images: TestImages, source: ExportSource): { inputs: string[]; outputs: string[]; dims: number[]; logits: number[] } {
  const [c, r] = [source.normalization.mean.length, source.resolution];
  const table = normalizationTable(source.normalization);
  const input = Float32Array.from(images.pixels, (v, i) => table[(Math.floor(i / (r * r)) % c) * 256 + v]);
  const dir = mkdtempSync(join(tmpdir(), 'convoy-onnx-'));
  writeFileSync(join(dir, 'model.onnx'), bytes);
  writeFileSync(join(dir, 'input.f32'), new Uint8Array(input.buffer));
  const run = spawnSync(process.execPath, [join(__dirname, 'onnxruntimeLogits.mjs'), join(dir, 'model.onnx'), join(dir, 'input.f32'), JSON.stringify([images.count, c, r, r])], { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (run.status !== 0) throw new Error(`onnxruntime-web failed:\n${run.stderr}`);
  return JSON.parse(run.stdout) as { inputs: string[]; outputs: string[]; dims: number[]; logits: number[] };
}

/** onnx.checker.check_model with full_check (which runs ONNX's shape inference too); throws with its message. */
export function onnxChecker(bytes: Uint8Array): { opset: number; outputShape: string } {
  const dir = mkdtempSync(join(tmpdir(), 'convoy-onnx-'));
  writeFileSync(join(dir, 'model.onnx'), bytes);
  const script = [
    'import sys, json, onnx',
    'm = onnx.load(sys.argv[1])',
    'onnx.checker.check_model(m, full_check=True)',
    'inferred = onnx.shape_inference.infer_shapes(m, strict_mode=True)',
    'dims = [d.dim_param or d.dim_value for d in inferred.graph.output[0].type.tensor_type.shape.dim]',
    "print(json.dumps({'opset': m.opset_import[0].version, 'outputShape': str(dims)}))",
  ].join('\n');
  const run = spawnSync(PYTHON, ['-c', script, join(dir, 'model.onnx')], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`onnx's checker refused the file:\n${run.stderr}`);
  return JSON.parse(run.stdout) as { opset: number; outputShape: string };
}

/** The ONNX export of a network of every layer type and of the recipe network, run by onnxruntime-web on `images` and checked by onnx's checker. */
export function describeOnnxExport(images: TestImages): void {
  const checkerProblem = pythonProblem(['onnx']);
  if (checkerProblem) console.log(`${checkerProblem}: onnx's checker is not run on the ONNX export`);
  describe('ONNX export of a layer list', () => {
    const { model, source } = trainedLookingNetwork(EVERY_LAYER_SPEC, 11);
    const bytes = exportOnnx(source);

    it(`onnxruntime's logits equal convoy's eval within 1e-4 on ${images.source}`, () => {
      const ours = convoyLogits(model, images, source.normalization, source.resolution);
      expect(Math.max(...ours.map(Math.abs))).toBeGreaterThan(0.5);
      const theirs = onnxruntimeRun(bytes, images, source);
      expect(theirs.dims).toEqual([images.count, 10]);
      expect([...theirs.inputs, ...theirs.outputs]).toEqual(['input', 'logits']);
      const worst = largestDifference(ours, theirs.logits);
      console.log(`onnx: largest logit difference from onnxruntime ${worst.toExponential(2)} on ${images.source}`);
      expect(worst).toBeLessThan(1e-4);
    });

    (checkerProblem ? it.skip : it)("passes onnx's checker (full check, strict shape inference): opset 17, logits [N, 10]", () => {
      expect(onnxChecker(bytes)).toEqual({ opset: 17, outputShape: "['N', 10]" });
    });

    it('carries the network JSON, class names and normalisation as metadata_props', () => {
      const text = Buffer.from(bytes).toString('latin1');
      expect(text).toContain(JSON.stringify(source.modelSpec));
      expect(text).toContain(JSON.stringify(source.classNames));
    });
  });

  describe('ONNX export of the recipe network', () => {
    const spec: ModelSpec = { kind: 'recipe', resolution: 32, classes: 10, width: 4 };
    const model = buildModel(spec).eval();
    const { params } = createParameters(model, { seed: 3 });
    const source: ExportSource = {
      modelSpec: spec, classNames: CIFAR10_CLASS_NAMES, resolution: 32, normalization: CIFAR10_NORMALIZATION,
      parameters: params.entries, params: params.data,
    };

    it(`onnxruntime's logits equal convoy's within 1e-4 on ${images.source}, and the checker takes it`, () => {
      const bytes = exportOnnx(source);
      const theirs = onnxruntimeRun(bytes, images, source);
      expect(largestDifference(convoyLogits(model, images, source.normalization, 32), theirs.logits)).toBeLessThan(1e-4);
      if (!checkerProblem) expect(onnxChecker(bytes).outputShape).toBe("['N', 10]");
    });
  });
}
