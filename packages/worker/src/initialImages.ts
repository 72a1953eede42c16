import { epochOrder, fillBatch, imageBytes, type ImageSet, type Normalization } from '@convoy/data';
import { initImagesWanted, type ImageSample, type ModelSpec } from '@convoy/nn';
import { Tensor } from '@convoy/tensor';

/**
 * The training images a model's data-derived initialisation (a whitening layer) reads, or
 * undefined when it has none: the first min(wanted, count) images of epoch 0's seeded order,
 * normalised as training normalises them, without augmentation. They depend on the seed and the
 * training set only, so every thread count and every rank computes the same starting weights
 * (and epoch 0's order mixes the classes of a folder stored class by class).
 */
export function initialImageSample(spec: ModelSpec, train: ImageSet, seed: number, normalization: Normalization | undefined): ImageSample | undefined {
  const wanted = initImagesWanted(spec);
  if (wanted === 0) return undefined;
  const order = epochOrder(train.count, seed, 0);
  const perImage = imageBytes(train);
  let images = new Float32Array(0);
  let labels = new Int32Array(0);
  return {
    count: Math.min(wanted, train.count),
    read(start: number, end: number): Tensor {
      const n = end - start;
      if (images.length < n * perImage) {
        images = new Float32Array(n * perImage);
        labels = new Int32Array(n);
      }
      fillBatch(train, order, start, end, images, labels, { augment: false, normalization });
      return new Tensor(images.subarray(0, n * perImage), [n, train.channels, train.height, train.width]);
    },
  };
}
