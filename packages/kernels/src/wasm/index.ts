export { WasmBackend, WINOGRAD_MIN_CHANNELS, createWasmBackend } from './wasmBackend';
export type { WasmBackendOptions } from './wasmBackend';
export { kernelWasmPath } from './kernelModule';
