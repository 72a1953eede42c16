export type { ConvEpilogue, KernelBackend } from './backend';
export { maskByReluOutput, reluInPlace } from './epilogue';
export { relativeMaxError } from './parity';
export * from './shapes';
export { referenceBackend } from './reference';
export {
  WASM_VARIANTS, WasmBackend, createWasmBackend, instantiateKernels, kernelWasmPath, preferredWasmVariant, provideKernelWasm, relaxedSimdSupported,
} from './wasm';
export type { KernelExports, WasmVariant } from './wasm';
export { BACKEND_NAMES, selectBackend } from './select';
export type { BackendName, BackendOptions, BackendSelection } from './select';
export { createGpuJsBackend, gpuJsModesAvailable, probeHardwareGpu } from './gpujs/lazy';
export type { GpuJsBackend, GpuJsBackendOptions, GpuJsMode, GpuJsModeProbe, ResolvedGpuJsMode } from './gpujs';
