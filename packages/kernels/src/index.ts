export type { KernelBackend } from './backend';
export * from './shapes';
export { referenceBackend } from './reference';
export { WasmBackend, createWasmBackend, kernelWasmPath } from './wasm';
export { BACKEND_NAMES, createBackend, selectBackend } from './select';
export type { BackendName, BackendOptions, BackendSelection } from './select';
export { createGpuJsBackend, gpuJsModesAvailable, probeHardwareGpu } from './gpujs/lazy';
export type { GpuJsBackend, GpuJsBackendOptions, GpuJsMode, GpuJsModeProbe, ResolvedGpuJsMode } from './gpujs';
