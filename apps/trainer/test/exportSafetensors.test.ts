import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportSafetensors } from '../src/commands/export';
import { convoyLogits, EVERY_LAYER_SPEC, imagesForExportChecks, largestDifference, PYTHON, pythonProblem, trainedLookingNetwork } from './exportNetwork';

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

function safetensorsHeader(bytes: Uint8Array): Record<string, { dtype: string; shape: number[] }> {
  const length = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  const header = JSON.parse(Buffer.from(bytes.subarray(8, 8 + length)).toString('utf8')) as Record<string, { dtype: string; shape: number[] }>;
  delete header.__metadata__;
  return header;
}

const problem = pythonProblem(['torch', 'numpy']);
if (problem) console.log(`${problem}: the PyTorch side of the safetensors export check is not run`);

describe('safetensors export of a layer list, rebuilt in PyTorch from the file alone', () => {
  const { model, source } = trainedLookingNetwork(EVERY_LAYER_SPEC, 11);
  const images = imagesForExportChecks(16);
  const bytes = exportSafetensors(source);
  const header = safetensorsHeader(bytes);

  it('names every tensor as the state_dict, with BatchNorm buffers and num_batches_tracked as int64 scalars', () => {
    expect(Object.keys(header)).toEqual(expect.arrayContaining(['layers.0.weight', 'layers.1.weight', 'layers.1.bias', 'layers.1.running_mean', 'layers.1.running_var', 'layers.1.num_batches_tracked', 'layers.3.layers.0.weight', 'layers.3.layers.1.running_var', 'layers.6.running_mean', 'layers.17.bias']));
    expect(Object.keys(header)).not.toContain('layers.6.weight');
    expect(header['layers.1.num_batches_tracked']).toEqual({ dtype: 'I64', shape: [], data_offsets: expect.any(Array) });
    expect(header['layers.5.weight']).toEqual({ dtype: 'F32', shape: [12, 8, 3, 3], data_offsets: expect.any(Array) });
  });

  (problem ? it.skip : it)(`PyTorch's load_state_dict(strict=True) takes it, and its logits equal convoy's eval within 1e-4 on ${images.source}`, () => {
    const dir = mkdtempSync(join(tmpdir(), 'convoy-export-'));
    writeFileSync(join(dir, 'model.safetensors'), bytes);
    writeFileSync(join(dir, 'pixels.u8'), images.pixels);
    const run = spawnSync(PYTHON, ['-c', PYTHON_READER, TOOLS, join(dir, 'model.safetensors'), join(dir, 'pixels.u8')], { encoding: 'utf8', maxBuffer: 1 << 26 });
    if (run.status !== 0) throw new Error(`python failed:\n${run.stderr}`);
    const torch = JSON.parse(run.stdout) as { keys: string[]; dtypes: Record<string, string>; tracked: number[]; logits: number[] };
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
