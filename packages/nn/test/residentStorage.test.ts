import { createWasmBackend } from '@convoy/kernels';
import { Tensor } from '@convoy/tensor';
import { buildLayerList, createParameters, ReusableTensor, SGD, softmaxCrossEntropy, type LayerSpec } from '../src';

// Layers keep their outputs and input gradients in storage their backend allocates
// (KernelBackend.allocate): for the wasm kernels, arrays inside their memory, used in place.

const layers: LayerSpec[] = [
  { type: 'conv2d', out: 8, kernel: 3, padding: 1 },
  { type: 'batchnorm2d', groupSize: 2 },
  { type: 'relu' },
  { type: 'maxpool2d', kernel: 2 },
  { type: 'conv2d', out: 8, kernel: 3, padding: 1 },
  { type: 'relu' },
  { type: 'globalavgpool2d' },
  { type: 'flatten' },
  { type: 'linear', out: 'classes' },
];

/** Two SGD steps on a fixed batch; the parameters after them, and the first conv's output storage. */
function train(residentBytes: number): { params: Float32Array; convOutput: Float32Array; memory: ArrayBufferLike | null } {
  const backend = createWasmBackend({ residentBytes });
  const model = buildLayerList({ input: { channels: 3, resolution: 8 }, layers }, 4, { backend });
  const { params, grads } = createParameters(model, { seed: 3 });
  const sgd = new SGD({ size: params.size, momentum: 0.9 });
  const images = Tensor.zeros([4, 3, 8, 8]);
  for (let i = 0; i < images.data.length; i++) images.data[i] = Math.cos(i * 0.7);
  const labels = Int32Array.from([0, 1, 2, 3]);
  model.setStepContext({ seed: 3, step: 0 });
  for (let step = 1; step <= 2; step++) {
    const logits = model.forward(images);
    model.backward(softmaxCrossEntropy(logits, labels, 'mean').gradLogits);
    sgd.step({ params, grads, lr: 0.1, step });
  }
  const firstConv = model.childModules()[0].childModules()[0];
  const convOutput = firstConv.forward(images).data;
  return { params: Float32Array.from(params.data), convOutput, memory: backend.allocate(1)?.buffer ?? null };
}

test('a network on a backend that allocates trains to the same bits, with its layer outputs in that memory', () => {
  const copied = train(0);
  const inPlace = train(128 << 20);
  expect(copied.memory).toBeNull();
  expect(inPlace.convOutput.buffer).toBe(inPlace.memory);
  expect(copied.convOutput.buffer).not.toBe(inPlace.memory);
  expect(Array.from(inPlace.params)).toEqual(Array.from(copied.params));
});

test('a backend without room gives ordinary arrays', () => {
  const backend = createWasmBackend({ residentBytes: 1 << 20 });
  expect(backend.allocate(16)).toBeNull();
  const storage = new ReusableTensor(() => backend);
  const t = storage.get([2, 3]);
  expect(t.data).toBeInstanceOf(Float32Array);
  expect(Array.from(t.data)).toEqual([0, 0, 0, 0, 0, 0]);
});
