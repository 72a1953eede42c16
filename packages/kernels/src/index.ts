export type { KernelBackend } from './backend';
export * from './shapes';
export { referenceBackend } from './reference';
export { WasmBackend, createWasmBackend, kernelWasmPath } from './wasm';
export { BACKEND_NAMES, createBackend, selectBackend } from './select';
export type { BackendName, BackendOptions, BackendSelection } from './select';
