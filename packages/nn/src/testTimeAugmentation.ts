import { formatShape, Tensor } from '@convoy/tensor';
import type { Module } from './module';

/** Test-time augmentation: which views of each image are classified and averaged. */
export const TTA_MODES = ['none', 'flip', 'flip-translate'] as const;
export type TtaMode = (typeof TTA_MODES)[number];

/** One view of an image: mirrored left-right or not, then shifted by `shift` pixels on both axes (reflected at the border). */
export interface TtaView {
  flip: boolean;
  /** The view's pixel (y, x) is the image's (y + shift, x + shift), reflected at the border; 0: no shift. */
  shift: number;
  /** Weight of this view's logits in the average; the weights of a mode sum to 1. */
  weight: number;
}

/**
 * The views of a mode and their weights, in the order their logits are summed (fixed, so the
 * average does not depend on anything but the image). `flip`: the image and its mirror, 1/2 each.
 * `flip-translate` (airbench94's second level): half the weight on the flip pair of the image, half
 * on the flip pairs of the image shifted one pixel up-left and one down-right (reflecting the
 * border row and column), so 1/4 on each unshifted view and 1/8 on each shifted one.
 */
export function ttaViews(mode: TtaMode): TtaView[] {
  switch (mode) {
    case 'none':
      return [{ flip: false, shift: 0, weight: 1 }];
    case 'flip':
      return [{ flip: false, shift: 0, weight: 0.5 }, { flip: true, shift: 0, weight: 0.5 }];
    case 'flip-translate':
      return [
        { flip: false, shift: 0, weight: 0.25 }, { flip: true, shift: 0, weight: 0.25 },
        { flip: false, shift: -1, weight: 0.125 }, { flip: true, shift: -1, weight: 0.125 },
        { flip: false, shift: 1, weight: 0.125 }, { flip: true, shift: 1, weight: 0.125 },
      ];
    default:
      throw new RangeError(`test-time augmentation must be one of ${TTA_MODES.join(', ')}; got ${JSON.stringify(mode)}`);
  }
}

/** Index i + shift reflected into [0, size) without repeating the edge (PyTorch's 'reflect' padding). */
function reflect(i: number, size: number): number {
  if (i < 0) return -i;
  if (i >= size) return 2 * (size - 1) - i;
  return i;
}

/**
 * Writes `view` of the NCHW images `x` into `out` (same shape): first the shift (airbench pads by
 * reflection and crops, i.e. out(y, x) = in(y + shift, x + shift) reflected), then the mirror.
 */
export function writeTtaView(x: Tensor, view: TtaView, out: Tensor): Tensor {
  if (x.shape.length !== 4 || out.size !== x.size) {
    throw new RangeError(`writeTtaView: expected NCHW images and an output of the same size, got ${formatShape(x.shape)} and ${formatShape(out.shape)}`);
  }
  const [n, c, h, w] = x.shape;
  if (Math.abs(view.shift) >= Math.min(h, w)) throw new RangeError(`writeTtaView: a shift of ${view.shift} does not fit ${h}x${w} images`);
  const src = x.data;
  const dst = out.data;
  for (let plane = 0; plane < n * c; plane++) {
    const base = plane * h * w;
    for (let y = 0; y < h; y++) {
      const row = base + reflect(y + view.shift, h) * w;
      const outRow = base + y * w;
      for (let col = 0; col < w; col++) {
        const sourceCol = reflect((view.flip ? w - 1 - col : col) + view.shift, w);
        dst[outRow + col] = src[row + sourceCol];
      }
    }
  }
  return out;
}

/**
 * The model's logits averaged over the views of `mode` (the model's current mode: call eval()
 * first). Each image's average depends only on that image: views are summed in ttaViews' order,
 * in double precision, then rounded once to float32. `plain`: the model's logits of `x` itself,
 * when the caller already has them (they are read before the next forward, which may reuse them).
 */
export function ttaLogits(model: Module, x: Tensor, mode: TtaMode, plain?: Tensor): Tensor {
  const views = ttaViews(mode);
  if (views.length === 1) return plain ?? model.forward(x);
  let image: Tensor | null = null;
  let sum: Float64Array | null = null;
  let shape = x.shape;
  for (const view of views) {
    const unchanged = !view.flip && view.shift === 0;
    let logits: Tensor;
    if (unchanged && plain) logits = plain;
    else if (unchanged) logits = model.forward(x);
    else {
      image ??= Tensor.zeros(x.shape);
      logits = model.forward(writeTtaView(x, view, image));
    }
    sum ??= new Float64Array(logits.size);
    shape = logits.shape;
    const data = logits.data;
    for (let i = 0; i < data.length; i++) sum[i] += view.weight * data[i];
  }
  return Tensor.from(Float32Array.from(sum ?? []), shape);
}
