export { WasmBackend, WINOGRAD_MIN_CHANNELS, createWasmBackend } from './wasmBackend';
export type { WasmBackendOptions } from './wasmBackend';
export { WASM_VARIANTS, instantiateKernels, kernelWasmPath, preferredWasmVariant, provideKernelWasm, relaxedSimdSupported } from './kernelModule';
export type { KernelExports, WasmVariant } from './kernelModule';
