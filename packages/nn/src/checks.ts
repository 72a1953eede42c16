import { findNonFinite, formatShape, shapesEqual, Tensor } from '@convoy/tensor';

/** Throws unless x is [N, channels, H, W] (any N, H, W when not given). */
export function checkImageInput(label: string, x: Tensor, channels: number): void {
  if (x.shape.length !== 4 || x.shape[1] !== channels || x.shape[0] < 1) {
    throw new RangeError(`${label}: expected input of shape [N, ${channels}, H, W] (NCHW, N >= 1), got ${formatShape(x.shape)}`);
  }
}

/**
 * A layer met NaN or Infinity in its input. A RangeError like the other input errors, typed so a
 * caller (the worker) can tell divergence from a bug without reading the message.
 */
export class NonFiniteInputError extends RangeError {
  constructor(message: string, readonly layer: string, readonly index: number) {
    super(message);
    this.name = 'NonFiniteInputError';
  }
}

/** NaN/Infinity in an input poisons every later number; fail where it enters, naming the element. */
export function checkFiniteInput(label: string, x: Tensor): void {
  const i = findNonFinite(x.data);
  if (i >= 0) {
    throw new NonFiniteInputError(
      `${label}: input element ${i} of ${formatShape(x.shape)} is ${x.data[i]}; expected finite numbers (check the data pipeline, or lower the learning rate if training diverged)`,
      label,
      i,
    );
  }
}

/** backward's gradient must have the shape forward returned. */
export function checkGradOut(label: string, gradOut: Tensor, output: Tensor | null): Tensor {
  if (!output) throw new Error(`${label}: backward called before forward`);
  if (!shapesEqual(gradOut.shape, output.shape)) {
    throw new RangeError(`${label}: gradOut must have the forward output's shape ${formatShape(output.shape)}, got ${formatShape(gradOut.shape)}`);
  }
  return output;
}
