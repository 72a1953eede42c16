export type { KernelBackend } from './backend';
export * from './shapes';
export { referenceBackend } from './reference';
export { WASM_VARIANTS, WasmBackend, createWasmBackend, kernelWasmPath, preferredWasmVariant, provideKernelWasm, relaxedSimdSupported } from './wasm';
export type { WasmVariant } from './wasm';
export { BACKEND_NAMES, createBackend, selectBackend } from './select';
export type { BackendName, BackendOptions, BackendSelection } from './select';
export { createGpuJsBackend, gpuJsModesAvailable, probeHardwareGpu } from './gpujs/lazy';
export type { GpuJsBackend, GpuJsBackendOptions, GpuJsMode, GpuJsModeProbe, ResolvedGpuJsMode } from './gpujs';
