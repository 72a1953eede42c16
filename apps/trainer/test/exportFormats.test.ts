import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkModelFile, type LayerModelSpec } from '@convoy/nn';
import { exportOnnx, exportSafetensors } from '../src/commands/export';
import { describeOnnxExport, describeSafetensorsExport, onnxChecker, onnxruntimeRun, pytorchRun } from './exportChecks';
import { convoyLogits, drawnImages, GREY_SPEC, imagesForExportChecks, largestDifference, pythonProblem, trainedLookingNetwork } from './exportNetwork';

// Real CIFAR-10 test images when CIFAR10_DIR is set, seeded pixels otherwise (the e2e target runs
// the same checks on real images always).
const images = imagesForExportChecks(16);
const torchProblem = pythonProblem(['torch', 'numpy']);
const checkerProblem = pythonProblem(['onnx']);
describeSafetensorsExport(images);
describeOnnxExport(images);

describe('both exports of a grey 28x28 network (one input channel, no resize)', () => {
  const { model, source } = trainedLookingNetwork(GREY_SPEC, 13);
  const grey = drawnImages(8, 1, 28, 6);
  const ours = convoyLogits(model, grey, source.normalization, 28);

  it("onnxruntime's logits equal convoy's within 1e-4 (a 3x1 kernel with padding [1, 0] among the layers), and onnx's checker takes it", () => {
    const bytes = exportOnnx(source);
    const theirs = onnxruntimeRun(bytes, grey, source);
    expect(theirs.dims).toEqual([8, 10]);
    expect(largestDifference(ours, theirs.logits)).toBeLessThan(1e-4);
    if (!checkerProblem) expect(onnxChecker(bytes).outputShape).toBe("['N', 10]");
  });

  (torchProblem ? it.skip : it)("PyTorch's logits equal convoy's within 1e-4", () => {
    expect(largestDifference(ours, pytorchRun(exportSafetensors(source), grey).logits)).toBeLessThan(1e-4);
  });
});

describe("both exports of airbench94's network (models/airbench94.json: whitening conv, identity convs, BatchNorm without a weight)", () => {
  const file = JSON.parse(readFileSync(join(__dirname, '..', '..', '..', 'models', 'airbench94.json'), 'utf8')) as unknown;
  const spec: LayerModelSpec = { kind: 'layers', classes: 10, ...checkModelFile(file, 10).spec };
  const { model, source } = trainedLookingNetwork(spec, 17);
  const ours = convoyLogits(model, images, source.normalization, 32);
  // The logits x 1/9 are small (about 0.1 with these weights): differences are measured against
  // their largest magnitude, so 1e-4 stays a tight bound.
  const logitScale = Math.max(...Array.from(ours, Math.abs));

  it("onnxruntime's logits equal convoy's within 1e-4 of their scale, and onnx's checker takes it", () => {
    const bytes = exportOnnx(source);
    const theirs = onnxruntimeRun(bytes, images, source);
    expect(theirs.dims).toEqual([images.count, 10]);
    expect(largestDifference(ours, theirs.logits) / logitScale).toBeLessThan(1e-4);
    if (!checkerProblem) expect(onnxChecker(bytes).outputShape).toBe("['N', 10]");
  });

  (torchProblem ? it.skip : it)("PyTorch's load_state_dict(strict=True) takes the safetensors (BatchNorm bias, no weight) and its logits equal convoy's within 1e-4 of their scale", () => {
    const torch = pytorchRun(exportSafetensors(source), images);
    expect(logitScale).toBeGreaterThan(0.01);
    expect(torch.keys.filter((k) => k.startsWith('layers.4.'))).toEqual(['layers.4.bias', 'layers.4.running_mean', 'layers.4.running_var', 'layers.4.num_batches_tracked']);
    expect(largestDifference(ours, torch.logits) / logitScale).toBeLessThan(1e-4);
  });
});

describe('exports refuse tensors that do not fit the network', () => {
  const { source } = trainedLookingNetwork(GREY_SPEC, 13);

  it('names a missing BatchNorm buffer', () => {
    expect(() => exportSafetensors({ ...source, buffers: undefined })).toThrow(/\bbuffers\b.*'layers\.1\.running_mean'.*\bnone\b/);
    expect(() => exportOnnx({ ...source, buffers: undefined })).toThrow(/\bbuffers\b.*'layers\.1\.running_mean'/);
  });

  it('names a parameter whose shape differs, and one the network lacks', () => {
    const parameters = source.parameters.map((e) => (e.name === 'layers.0.weight' ? { ...e, shape: [6, 1, 25] } : e));
    expect(() => exportSafetensors({ ...source, parameters })).toThrow(/'layers\.0\.weight'.*\[6, 1, 25\].*\[6, 1, 5, 5\]/);
    const extra = [...source.parameters, { name: 'layers.9.weight', shape: [1], offset: 0, size: 1 }];
    expect(() => exportOnnx({ ...source, parameters: extra })).toThrow(/\bno tensors\b.*\blayers\.9\.weight\b/);
  });
});
