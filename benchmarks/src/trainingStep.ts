import type { KernelBackend } from '@convoy/kernels';
import { SGD, createParameters, recipeNet, softmaxCrossEntropy } from '@convoy/nn';
import { Tensor } from '@convoy/tensor';
import { timeCall } from './timing';

export interface StepMeasurement {
  backend: string;
  batch: number;
  secondsPerStep: number;
  imagesPerSecond: number;
  /** Images per CPU-second of this process (see Timing.medianCpuSeconds). */
  imagesPerCpuSecond: number;
  steps: number;
}

/**
 * One training step of the CIFAR-10 recipe network (@convoy/nn's recipeNet, width 32) on one thread:
 * forward, softmax cross-entropy, backward (parameter and input gradients of every layer) and an
 * SGD update (Nesterov momentum 0.9, weight decay 5e-4), on a fixed random batch.
 */
export function measureTrainingStep(backend: KernelBackend, batch: number, budgetSeconds: number): StepMeasurement {
  const model = recipeNet({ resolution: 32, classes: 10, width: 32 }, { backend });
  const { params, grads } = createParameters(model, { seed: 1 });
  const optimizer = new SGD({ size: params.size, momentum: 0.9, nesterov: true, weightDecay: 5e-4 });
  const images = Tensor.zeros([batch, 3, 32, 32]);
  for (let i = 0; i < images.data.length; i++) images.data[i] = Math.sin(i * 0.37) * 1.5;
  const labels = Int32Array.from({ length: batch }, (_, i) => (i * 7) % 10);
  const gradLogits = Tensor.zeros([batch, 10]);
  let step = 0;
  const trainStep = () => {
    const logits = model.forward(images);
    const loss = softmaxCrossEntropy(logits, labels, 'mean', gradLogits);
    model.backward(loss.gradLogits);
    optimizer.step({ params, grads, lr: 0.01, step: ++step });
  };
  const { medianSeconds, medianCpuSeconds, runs } = timeCall(trainStep, { warmup: 2, minRuns: 5, budgetSeconds, slowCallSeconds: 5 });
  return {
    backend: backend.name, batch, secondsPerStep: medianSeconds, imagesPerSecond: batch / medianSeconds,
    imagesPerCpuSecond: batch / medianCpuSeconds, steps: runs,
  };
}
