import type { KernelBackend } from '@convoy/kernels';
import { SGD, buildModel, createBuffers, createParameters, modelInputOf, softmaxCrossEntropy, type LayerListSpec, type ModelSpec } from '@convoy/nn';
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
 * The network a step benchmark trains: the recipe at input side R and first-block width, or, with
 * `model`, that model file's layer list (its input side must be `resolution`).
 */
export interface StepNetwork {
  resolution: number;
  width: number;
  model?: LayerListSpec;
}

/** The model spec of a step network, for 10 classes: what a worker pool rebuilds. */
export function stepModelSpec(network: StepNetwork): ModelSpec {
  if (!network.model) return { kind: 'recipe', resolution: network.resolution, classes: 10, width: network.width };
  if (network.model.input.resolution !== network.resolution) {
    throw new RangeError(`the model file takes ${network.model.input.resolution}x${network.model.input.resolution} images, not ${network.resolution}`);
  }
  return { kind: 'layers', classes: 10, ...network.model };
}

export const CIFAR_NETWORK: StepNetwork = { resolution: 32, width: 32 };

/**
 * One training step of the network (the recipe, @convoy/nn's recipeNet, unless a model file or a
 * model spec is given; a layer list runs in training mode: BatchNorm over its ghost groups, dropout
 * keyed by the step) on this thread: forward, softmax cross-entropy, backward (parameter gradients,
 * and input gradients of every layer but the first, as the trainer's workers do) and an SGD update
 * (Nesterov momentum 0.9, weight decay 5e-4), on a fixed batch.
 */
export function measureTrainingStep(
  backend: KernelBackend, batch: number, budgetSeconds: number, network: StepNetwork | ModelSpec = CIFAR_NETWORK,
): StepMeasurement {
  const spec: ModelSpec = 'kind' in network ? network : stepModelSpec(network);
  const { channels, resolution } = modelInputOf(spec);
  const classes = spec.classes;
  const model = buildModel(spec, { backend, inputGradient: false });
  const { params, grads } = createParameters(model, { seed: 1 });
  createBuffers(model);
  model.train();
  const optimizer = new SGD({ size: params.size, momentum: 0.9, nesterov: true, weightDecay: 5e-4 });
  const images = Tensor.zeros([batch, channels, resolution, resolution]);
  for (let i = 0; i < images.data.length; i++) images.data[i] = Math.sin(i * 0.37) * 1.5;
  const labels = Int32Array.from({ length: batch }, (_, i) => (i * 7) % classes);
  const gradLogits = Tensor.zeros([batch, classes]);
  let step = 0;
  const trainStep = () => {
    model.setStepContext({ seed: 1, step });
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
