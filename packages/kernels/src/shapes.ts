/**
 * Geometry of the ops, shared by every backend. All tensors are NCHW, contiguous, float32.
 * Sizes follow PyTorch: out = floor((in + 2*pad - kernel) / stride) + 1.
 */
/**
 * What a sliding window needs, the same for a convolution and a pooling: one input plane's size and
 * the window's kernel, stride and padding per axis.
 */
export interface WindowGeometry {
  inHeight: number;
  inWidth: number;
  kernelHeight: number;
  kernelWidth: number;
  strideHeight: number;
  strideWidth: number;
  padHeight: number;
  padWidth: number;
}

export interface Conv2dGeometry extends WindowGeometry {
  batch: number;
  inChannels: number;
  outChannels: number;
}

export interface Pool2dGeometry extends WindowGeometry {
  batch: number;
  channels: number;
}

export function outputSize(input: number, kernel: number, stride: number, pad: number): number {
  return Math.floor((input + 2 * pad - kernel) / stride) + 1;
}

export function conv2dOutputHeight(g: Conv2dGeometry): number {
  return outputSize(g.inHeight, g.kernelHeight, g.strideHeight, g.padHeight);
}

export function conv2dOutputWidth(g: Conv2dGeometry): number {
  return outputSize(g.inWidth, g.kernelWidth, g.strideWidth, g.padWidth);
}

export function pool2dOutputHeight(g: Pool2dGeometry): number {
  return outputSize(g.inHeight, g.kernelHeight, g.strideHeight, g.padHeight);
}

export function pool2dOutputWidth(g: Pool2dGeometry): number {
  return outputSize(g.inWidth, g.kernelWidth, g.strideWidth, g.padWidth);
}

/** Multiply-adds of one conv2d forward: the unit every GFLOP/s figure is counted in (x2 flops). */
export function conv2dMultiplyAdds(g: Conv2dGeometry): number {
  return (
    g.batch * g.outChannels * conv2dOutputHeight(g) * conv2dOutputWidth(g) *
    g.inChannels * g.kernelHeight * g.kernelWidth
  );
}

/** Throws a clear error when a geometry cannot describe a real op (zero sizes, kernel larger than padded input). */
export function validateConv2dGeometry(g: Conv2dGeometry): void {
  for (const [key, value] of Object.entries(g)) {
    if (!Number.isInteger(value) || value < 0) {
      throw new RangeError(`conv2d: ${key} must be a non-negative integer, got ${value}`);
    }
  }
  if (g.strideHeight < 1 || g.strideWidth < 1) throw new RangeError(`conv2d: stride must be >= 1, got ${g.strideHeight}x${g.strideWidth}`);
  if (g.kernelHeight < 1 || g.kernelWidth < 1) throw new RangeError(`conv2d: kernel must be >= 1, got ${g.kernelHeight}x${g.kernelWidth}`);
  if (conv2dOutputHeight(g) < 1 || conv2dOutputWidth(g) < 1) {
    throw new RangeError(
      `conv2d: kernel ${g.kernelHeight}x${g.kernelWidth} (padding ${g.padHeight}x${g.padWidth}) does not fit input ${g.inHeight}x${g.inWidth}`,
    );
  }
}

export function validatePool2dGeometry(g: Pool2dGeometry): void {
  for (const [key, value] of Object.entries(g)) {
    if (!Number.isInteger(value) || value < 0) {
      throw new RangeError(`pool2d: ${key} must be a non-negative integer, got ${value}`);
    }
  }
  if (g.strideHeight < 1 || g.strideWidth < 1) throw new RangeError(`pool2d: stride must be >= 1`);
  if (g.padHeight * 2 > g.kernelHeight || g.padWidth * 2 > g.kernelWidth) {
    throw new RangeError(`pool2d: padding ${g.padHeight}x${g.padWidth} must be at most half the kernel ${g.kernelHeight}x${g.kernelWidth}`);
  }
  if (pool2dOutputHeight(g) < 1 || pool2dOutputWidth(g) < 1) {
    throw new RangeError(`pool2d: kernel ${g.kernelHeight}x${g.kernelWidth} does not fit input ${g.inHeight}x${g.inWidth}`);
  }
}

/** A batch-norm call: `batch` images of `channels` planes of `planeSize` floats, in ghost groups of `groupSize` images. */
export interface BatchNormGeometry {
  batch: number;
  channels: number;
  planeSize: number;
  groupSize: number;
}

/** How many ghost groups a batch-norm geometry has (the last may hold fewer images); throws on a bad geometry. */
export function batchNormGroups(g: BatchNormGeometry): number {
  for (const key of ['batch', 'channels', 'planeSize', 'groupSize'] as const) {
    if (!Number.isInteger(g[key]) || g[key] < 1) throw new RangeError(`batch norm geometry: ${key} must be a positive integer, got ${g[key]}`);
  }
  return Math.ceil(g.batch / g.groupSize);
}
