/**
 * The ReLU fused into conv kernels, for backends that apply it as a pass after their output (the
 * reference and gpu.js; the wasm kernels do the same inside their output pass). Both work on the
 * float bits, exactly as @convoy/nn's ReLU layer: negative values and -0 become +0, a NaN with its
 * sign bit clear (the canonical NaN) passes through; the gradient passes where the ReLU output is
 * not +0.
 */

/** data[i] = max(0, data[i]) for the first `count` elements. */
export function reluInPlace(data: Float32Array, count: number): void {
  const bits = new Int32Array(data.buffer, data.byteOffset, count);
  for (let i = 0; i < count; i++) {
    const b = bits[i];
    bits[i] = b & ~(b >> 31);
  }
}

/** grad[i] = 0 where reluOutput[i] is +0 (the ReLU that produced it was inactive there). */
export function maskByReluOutput(grad: Float32Array, reluOutput: Float32Array, count: number): void {
  if (reluOutput.length < count) {
    throw new RangeError(`reluMask: expected at least ${count} elements (the conv's input shape), got ${reluOutput.length}`);
  }
  const g = new Int32Array(grad.buffer, grad.byteOffset, count);
  const m = new Int32Array(reluOutput.buffer, reluOutput.byteOffset, count);
  for (let i = 0; i < count; i++) {
    const b = m[i];
    g[i] &= (b | -b) >> 31;
  }
}
