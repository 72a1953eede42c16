/**
 * What BatchNorm costs in a training step: the CIFAR recipe network (three conv-ReLU-conv-ReLU-pool
 * blocks of 32, 64, 128 maps, R=32) as a layer list, against the same convolutions with a
 * BatchNorm2d after each conv. One thread, one kernel backend, a fixed batch; the two networks are
 * timed in alternating rounds so that load on a shared machine hits both alike, and the ratio of
 * their images/s is printed per round and as the median, by wall clock and by this process's CPU
 * time (the figure to trust on a shared machine). The backend defaults to `auto`, what a trainer's
 * workers take (native where oneDNN loads, else wasm).
 *
 *   npx nx run benchmarks:batchnorm -- --batch 32 --rounds 7 --backend wasm
 *   node benchmarks/dist/batchNormStep.js --backend native
 */
import type { KernelBackend } from '@convoy/kernels';
import { buildLayerList, createParameters, SGD, softmaxCrossEntropy, type LayerSpec } from '@convoy/nn';
import { Tensor } from '@convoy/tensor';
import { selectWorkerBackend } from '@convoy/worker';
import { positiveInteger, positiveNumber, readFlags } from './args';
import { timeCall } from './timing';

const USAGE = 'usage: node dist/batchNormStep.js [--batch 32] [--rounds 5] [--budget 3 (seconds per network per round)] [--backend auto|native|wasm|...]';

function recipeLayers(batchNorm: boolean): LayerSpec[] {
  const layers: LayerSpec[] = [];
  for (const out of [32, 64, 128]) {
    for (let k = 0; k < 2; k++) {
      layers.push({ type: 'conv2d', out, kernel: 3, padding: 1 });
      if (batchNorm) layers.push({ type: 'batchnorm2d' });
      layers.push({ type: 'relu' });
    }
    layers.push({ type: 'maxpool2d', kernel: 2 });
  }
  layers.push({ type: 'globalavgpool2d' }, { type: 'flatten' }, { type: 'linear', out: 'classes' });
  return layers;
}

/** A closure running one SGD training step of the network on a fixed batch. */
function stepOf(batchNorm: boolean, backend: KernelBackend, batch: number): () => void {
  const model = buildLayerList({ input: { channels: 3, resolution: 32 }, layers: recipeLayers(batchNorm) }, 10, { backend, inputGradient: false });
  const { params, grads } = createParameters(model, { seed: 1 });
  const optimizer = new SGD({ size: params.size, momentum: 0.9, nesterov: true, weightDecay: 5e-4 });
  const images = Tensor.zeros([batch, 3, 32, 32]);
  for (let i = 0; i < images.data.length; i++) images.data[i] = Math.sin(i * 0.37) * 1.5;
  const labels = Int32Array.from({ length: batch }, (_, i) => (i * 7) % 10);
  const gradLogits = Tensor.zeros([batch, 10]);
  let step = 0;
  model.setStepContext({ seed: 1, step: 0 });
  return () => {
    const logits = model.forward(images);
    const loss = softmaxCrossEntropy(logits, labels, 'mean', gradLogits);
    model.backward(loss.gradLogits);
    optimizer.step({ params, grads, lr: 0.01, step: ++step });
  };
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function main(): void {
  let batch = 32;
  let rounds = 5;
  let budget = 3;
  let backendName = 'auto';
  readFlags(process.argv.slice(2), USAGE, (flag, args) => {
    if (flag === '--batch') batch = positiveInteger('--batch', args.value());
    else if (flag === '--rounds') rounds = positiveInteger('--rounds', args.value());
    else if (flag === '--budget') budget = positiveNumber('--budget', args.value());
    else if (flag === '--backend') backendName = args.value();
    else return false;
    return true;
  });
  // the choice a trainer's worker makes for this name: wasm, native (oneDNN), auto, ...
  const backend = selectWorkerBackend(backendName).backend;
  const plain = stepOf(false, backend, batch);
  const normalised = stepOf(true, backend, batch);
  const ratios: number[] = [];
  const cpuRatios: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const a = timeCall(plain, { warmup: 2, minRuns: 5, budgetSeconds: budget });
    const b = timeCall(normalised, { warmup: 2, minRuns: 5, budgetSeconds: budget });
    ratios.push(a.medianSeconds / b.medianSeconds);
    cpuRatios.push(a.medianCpuSeconds / b.medianCpuSeconds);
    console.log(JSON.stringify({
      round: r + 1, backend: backend.name, batch,
      recipeImagesPerSecond: +(batch / a.medianSeconds).toFixed(1), batchNormImagesPerSecond: +(batch / b.medianSeconds).toFixed(1),
      ratio: +ratios[r].toFixed(3), cpuRatio: +cpuRatios[r].toFixed(3),
    }));
  }
  console.log(`BatchNorm network / recipe network images/s: median ${median(ratios).toFixed(3)} (wall), ${median(cpuRatios).toFixed(3)} (CPU time), over ${rounds} interleaved rounds`);
}

main();
