import type { ParameterArena, Tensor } from '@convoy/tensor';
import { Conv2d } from './layers/conv2d';
import type { Module } from './module';
import type { ModelSpec } from './model';
import { symmetricEigen } from './symmetricEigen';

/**
 * A whitening layer (a model file's `"init": "whitening"`, after airbench): its filters are the
 * eigenvectors of the covariance of the training images' kh x kw patches, each divided by
 * sqrt(eigenvalue + eps), largest eigenvalue first, followed by their negatives. Through it (and
 * the GELU after it) the network sees decorrelated, equally scaled patch components from step 0.
 */

/** Images of the training set a whitening layer's statistics come from (airbench's 5,000). */
export const WHITENING_IMAGES = 5000;
/** Added to each eigenvalue before the square root (airbench's), so near-empty directions stay bounded. */
export const WHITENING_EPS = 5e-4;

/**
 * The uncentred second moment of all kh x kw patches (stride 1, no padding) of images, accumulated
 * in float64: E[p p^T] over patches p, a vector indexed as the conv weight is
 * (channel, row, column). Airbench uses the same uncentred moment.
 */
export class PatchCovariance {
  readonly size: number;
  private readonly sums: Float64Array;
  private patchCount = 0;

  constructor(readonly channels: number, readonly kernelHeight: number, readonly kernelWidth: number) {
    this.size = channels * kernelHeight * kernelWidth;
    this.sums = new Float64Array(this.size * this.size);
  }

  /** Adds the patches of `images` ([N, channels, H, W], e.g. normalised as in training). */
  add(images: Tensor): void {
    const [n, c, h, w] = images.shape;
    const { kernelHeight: kh, kernelWidth: kw, size: d } = this;
    if (images.shape.length !== 4 || c !== this.channels || h < kh || w < kw) {
      throw new RangeError(`PatchCovariance: expected images [N, ${this.channels}, H >= ${kh}, W >= ${kw}], got [${images.shape.join(', ')}]`);
    }
    const x = images.data;
    const patch = new Float64Array(d);
    const image = new Float64Array(d * d);
    for (let i = 0; i < n; i++) {
      image.fill(0);
      for (let y = 0; y + kh <= h; y++) {
        for (let xo = 0; xo + kw <= w; xo++) {
          let k = 0;
          for (let ch = 0; ch < c; ch++) {
            const plane = ((i * c + ch) * h + y) * w + xo;
            for (let r = 0; r < kh; r++) for (let s = 0; s < kw; s++) patch[k++] = x[plane + r * w + s];
          }
          for (let a = 0; a < d; a++) {
            const pa = patch[a];
            for (let b = a; b < d; b++) image[a * d + b] += pa * patch[b];
          }
        }
      }
      // One image's sum at a time keeps the float64 totals' rounding small.
      for (let j = 0; j < d * d; j++) this.sums[j] += image[j];
      this.patchCount += (h - kh + 1) * (w - kw + 1);
    }
  }

  get patches(): number {
    return this.patchCount;
  }

  /** The d x d second-moment matrix (row-major, symmetric). */
  matrix(): Float64Array {
    if (this.patchCount === 0) throw new Error('PatchCovariance: no patches added');
    const d = this.size;
    const m = new Float64Array(d * d);
    for (let a = 0; a < d; a++) {
      for (let b = a; b < d; b++) {
        m[a * d + b] = this.sums[a * d + b] / this.patchCount;
        m[b * d + a] = m[a * d + b];
      }
    }
    return m;
  }
}

/** The 2d whitening filters (float32, [2d, C, kh, kw] flattened) of a d x d patch covariance. */
export function whiteningFilters(covariance: Float64Array, d: number, eps = WHITENING_EPS): Float32Array {
  const { values, vectors } = symmetricEigen(covariance, d);
  const out = new Float32Array(2 * d * d);
  for (let k = 0; k < d; k++) {
    const scale = 1 / Math.sqrt(Math.max(values[k], 0) + eps);
    for (let j = 0; j < d; j++) {
      out[k * d + j] = vectors[k * d + j] * scale;
      out[(d + k) * d + j] = -vectors[k * d + j] * scale;
    }
  }
  return out;
}

/** Training images for a data-derived initialisation: `count` of them, read in ranges. */
export interface ImageSample {
  count: number;
  /** Images [start, end) of the sample, [end - start, C, R, R], normalised as training normalises them. */
  read(start: number, end: number): Tensor;
}

/** Images a model's data-derived initialisation reads (WHITENING_IMAGES, or 0 when it has none). */
export function initImagesWanted(spec: ModelSpec): number {
  return spec.kind === 'layers' && spec.layers[0]?.type === 'conv2d' && spec.layers[0].init === 'whitening' ? WHITENING_IMAGES : 0;
}

/**
 * The full name of a model's whitening layer's bias (the bias a run may train for its first epochs
 * only, as airbench does), or null when the model has no whitening layer or it has no bias.
 */
export function whiteningBiasName(spec: ModelSpec): string | null {
  if (initImagesWanted(spec) === 0 || spec.kind !== 'layers') return null;
  const first = spec.layers[0];
  return first.type === 'conv2d' && first.bias !== false ? 'layers.0.bias' : null;
}

/**
 * Sets the filters of a model's whitening layer (its first layer, a Conv2d with init 'whitening')
 * in `params` from the sample's patch statistics, read 250 images at a time. Does nothing for a
 * model without one.
 */
export function initializeFromImages(model: Module, params: ParameterArena, sample: ImageSample): void {
  const conv = firstLeaf(model);
  if (!(conv instanceof Conv2d) || conv.init !== 'whitening') return;
  if (sample.count < 1) throw new RangeError(`${conv.name}: a whitening layer needs training images to start from; got none`);
  const covariance = new PatchCovariance(conv.inChannels, conv.kernelSize[0], conv.kernelSize[1]);
  for (let start = 0; start < sample.count; start += 250) covariance.add(sample.read(start, Math.min(sample.count, start + 250)));
  params.tensor(conv.parameterSpecs()[0].name).data.set(whiteningFilters(covariance.matrix(), covariance.size));
}

function firstLeaf(m: Module): Module {
  const children = m.childModules();
  return children.length === 0 ? m : firstLeaf(children[0]);
}
