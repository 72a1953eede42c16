// Entry point of the WebAssembly SIMD kernels (built by `npm run build:wasm` into dist/kernels.wasm
// and, with relaxed SIMD, dist/kernels-relaxed.wasm).
// The host (src/wasm/wasmBackend.ts) owns the memory layout: it copies operands in, calls one of
// these, and copies results out. Nothing here allocates.

export { conv2dForward, conv2dBackwardInput, conv2dBackwardWeights, biasGradient } from './conv';
export { maxPool2d, maxPool2dBackward, avgPool2d, avgPool2dBackward, globalAvgPool, globalAvgPoolBackward } from './pool';
export { gemmPacked, packA, packB, MR, NR } from './gemm';

/** First byte past the module's static data: the host lays out its buffers from here. */
export function heapBase(): usize {
  return __heap_base;
}
export { winogradWeights } from './winogradWeights';
export { conv3x3Winograd } from './winogradForward';
export { conv3x3WeightGradWinograd } from './winogradWeightGrad';
export { batchNormForward, batchNormBackward } from './batchNorm';
