import { allocateImageSet, fillBatch, lumaOf, type ImageChannels, type Normalization } from '@convoy/data';
import { selectBackend } from '@convoy/kernels';
import { buildModel, modelInputOf, type ModelSpec } from '@convoy/nn';
import { ParameterArena, Tensor } from '@convoy/tensor';

export interface Prediction {
  className: string;
  probability: number;
}

/** What classification needs of a model: a checkpoint's self-description, its parameters and its buffers (BatchNorm's running statistics). */
export interface Classifier {
  modelSpec: ModelSpec;
  classNames: readonly string[];
  normalization: Normalization;
  params: Float32Array;
  buffers: { data: Float32Array };
}

/**
 * An image file as the network sees it: decoded by the browser, the smaller side scaled to R and
 * the centre R x R cropped (the CLI's decodeImage does the same with sharp), as planar RGB bytes,
 * or for a 1-channel network one grey plane made as the CLI makes it (@convoy/data's lumaOf).
 */
export async function decodeImageFile(file: Blob, resolution: number, channels: ImageChannels = 3): Promise<Uint8Array> {
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(file);
  } catch {
    throw new Error('this file is not an image the browser can decode (use a JPEG, PNG or WebP)');
  }
  const side = Math.min(bitmap.width, bitmap.height);
  const canvas = new OffscreenCanvas(resolution, resolution);
  const context = canvas.getContext('2d') as OffscreenCanvasRenderingContext2D;
  context.imageSmoothingQuality = 'high';
  context.drawImage(bitmap, (bitmap.width - side) / 2, (bitmap.height - side) / 2, side, side, 0, 0, resolution, resolution);
  bitmap.close();
  const rgba = context.getImageData(0, 0, resolution, resolution).data;
  const plane = resolution * resolution;
  if (channels === 1) {
    const grey = new Uint8Array(plane);
    for (let p = 0; p < plane; p++) grey[p] = lumaOf(rgba[4 * p], rgba[4 * p + 1], rgba[4 * p + 2]);
    return grey;
  }
  const planar = new Uint8Array(3 * plane);
  for (let p = 0; p < plane; p++) {
    planar[p] = rgba[4 * p];
    planar[plane + p] = rgba[4 * p + 1];
    planar[2 * plane + p] = rgba[4 * p + 2];
  }
  return planar;
}

/** The `count` most probable classes of one C x R x R image (softmax of the network's outputs). */
export function classify(classifier: Classifier, pixels: Uint8Array, count = 3): Prediction[] {
  const { modelSpec } = classifier;
  const { channels, resolution } = modelInputOf(modelSpec);
  const image = allocateImageSet(1, { channels, height: resolution, width: resolution });
  image.images.set(pixels);
  const x = new Float32Array(pixels.length);
  fillBatch(image, [0], 0, 1, x, new Int32Array(1), { augment: false, normalization: classifier.normalization });
  const model = buildModel(modelSpec, { backend: selectBackend('wasm').backend });
  const specs = model.parameterSpecs();
  const params = new ParameterArena(specs);
  params.data.set(classifier.params);
  model.bind(params, new ParameterArena(specs));
  const buffers = new ParameterArena(model.bufferSpecs());
  buffers.data.set(classifier.buffers.data);
  model.bindBuffers(buffers);
  // Eval mode: BatchNorm normalises with its running statistics and dropout passes everything.
  model.eval();
  const logits = model.forward(new Tensor(x, [1, channels, resolution, resolution])).data;
  const top = Math.max(...logits);
  const exps = Array.from(logits, (v) => Math.exp(v - top));
  const total = exps.reduce((a, b) => a + b, 0);
  return exps
    .map((e, i) => ({ className: classifier.classNames[i], probability: e / total }))
    .sort((a, b) => b.probability - a.probability)
    .slice(0, count);
}
