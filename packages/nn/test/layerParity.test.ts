import { readFileSync } from 'fs';
import { join } from 'path';
import { createWasmBackend, KernelBackend, referenceBackend } from '@convoy/kernels';
import { relativeError, Rng, Tensor } from '@convoy/tensor';
import { buildLayerList, createParameters, initializeFromImages, LayerSpec, Module, SGD, softmaxCrossEntropy, stepTrainable, trainableRanges } from '../src';

/**
 * Parity with PyTorch 1.13 for the layers beyond the recipe, on two small networks built from model
 * files (fixtures written by tools/pytorch/make_layer_fixtures.py with tools/pytorch/model_file.py):
 * training forward (ghost-group BatchNorm, keyed dropout masks), every parameter gradient, one SGD
 * step, the BatchNorm buffers, the eval-mode forward after the step, and the next step's loss.
 * The third network has airbench's pieces: a whitening first conv (its filters from the input batch's
 * patch statistics, frozen), identity-initialised convs and linear layers, frozen parameters (no
 * step, no weight decay, no momentum) and BatchNorm without a weight.
 */

interface Network {
  name: string; seed: number; batch: number; classes: number;
  model: { input: { channels: number; resolution: number }; layers: LayerSpec[] };
  labels: number[]; logits: number[]; loss: number;
  parameters: { name: string; shape: number[]; grad: number[] | null; afterStep: number[]; frozen?: true }[];
  buffers: { name: string; values: number[] }[];
  evalLogits: number[]; lossAtStep1: number;
}
const fixture: { sgd: { lr: number; momentum: number; weightDecay: number }; networks: Network[] } = JSON.parse(
  readFileSync(join(__dirname, 'fixtures', 'layers.json'), 'utf8'),
);
const TOLERANCE = 1e-4;

function build(net: Network, backend: KernelBackend): Module {
  return buildLayerList(net.model, net.classes, { backend });
}

function input(net: Network): Tensor {
  const { channels, resolution } = net.model.input;
  const x = Tensor.zeros([net.batch, channels, resolution, resolution]);
  const rng = Rng.forKey(net.seed, 1);
  for (let i = 0; i < x.size; i++) x.data[i] = 4 * rng.uniform() - 2;
  return x;
}

function labels(net: Network): Int32Array {
  const rng = Rng.forKey(net.seed, 2);
  return Int32Array.from({ length: net.batch }, () => rng.int(net.classes));
}

const backends: [string, () => KernelBackend][] = [['reference', () => referenceBackend], ['wasm', () => createWasmBackend()]];

describe.each(backends)('PyTorch parity of the layers (%s backend)', (_name, makeBackend) => {
  describe.each(fixture.networks.map((n) => [n.name, n] as const))('%s', (_n, net) => {
    const model = build(net, makeBackend());
    const { params, grads, buffers } = createParameters(model, { seed: net.seed });
    const x = input(net);
    const y = labels(net);
    initializeFromImages(model, params, { count: net.batch, read: () => x });

    it('has the state_dict names and shapes (parameters and buffers) of the PyTorch module', () => {
      expect(model.parameterSpecs()).toEqual(net.parameters.map((p) => ({ name: p.name, shape: p.shape })));
      expect(model.bufferSpecs().map((b) => b.name)).toEqual(net.buffers.map((b) => b.name));
      expect(Array.from(y)).toEqual(net.labels);
      expect(model.frozenParameters()).toEqual(net.parameters.filter((p) => p.frozen).map((p) => p.name));
    });

    it('matches the training forward, every gradient, one SGD step, the buffers, eval, and the next step', () => {
      model.train();
      model.setStepContext({ seed: net.seed, step: 0 });
      const out = model.forward(x);
      expect(relativeError(out.data, net.logits)).toBeLessThan(TOLERANCE);
      const { loss, gradLogits } = softmaxCrossEntropy(out, y);
      expect(Math.abs(loss - net.loss) / net.loss).toBeLessThan(TOLERANCE);
      model.backward(gradLogits);
      // A conv bias right before a BatchNorm has a gradient of exactly 0 (the mean cancels it):
      // PyTorch's float64 gives ~1e-17, float32 ~1e-9, so such tensors are checked as absolutely small.
      const largest = Math.max(...net.parameters.flatMap((p) => (p.grad ?? []).map(Math.abs)));
      for (const p of net.parameters) {
        const ours = grads.tensor(p.name).data;
        // PyTorch computes no gradient for a frozen parameter; convoy's is computed and never used.
        if (p.grad === null) continue;
        if (Math.max(...p.grad.map(Math.abs)) < 1e-12 * largest) {
          expect(Math.max(...Array.from(ours, Math.abs))).toBeLessThan(1e-6 * largest);
          continue;
        }
        const err = relativeError(ours, p.grad);
        if (!(err < TOLERANCE)) throw new Error(`${p.name}: gradient relative error ${err}`);
      }
      const sgd = new SGD({ size: params.size, momentum: fixture.sgd.momentum, weightDecay: fixture.sgd.weightDecay });
      stepTrainable(sgd, { params, grads, lr: fixture.sgd.lr, step: 1 }, trainableRanges(params.entries, model.frozenParameters()));
      for (const p of net.parameters.filter((q) => q.frozen)) {
        const entry = params.entries.find((e) => e.name === p.name)!;
        expect(sgd.state.momentumBuffer.subarray(entry.offset, entry.offset + entry.size).every((v) => v === 0)).toBe(true);
      }
      for (const p of net.parameters) {
        const err = relativeError(params.tensor(p.name).data, p.afterStep);
        if (!(err < TOLERANCE)) throw new Error(`${p.name}: parameters after one SGD step, relative error ${err}`);
      }
      for (const b of net.buffers) {
        const err = relativeError(buffers.tensor(b.name).data, b.values);
        if (!(err < TOLERANCE)) throw new Error(`${b.name}: buffer relative error ${err}`);
      }
      model.eval();
      expect(relativeError(model.forward(x).data, net.evalLogits)).toBeLessThan(TOLERANCE);
      model.train();
      model.setStepContext({ seed: net.seed, step: 1 });
      const next = softmaxCrossEntropy(model.forward(x), y).loss;
      expect(Math.abs(next - net.lossAtStep1) / net.lossAtStep1).toBeLessThan(TOLERANCE);
    });
  });
});
