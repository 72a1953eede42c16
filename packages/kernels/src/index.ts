export type { KernelBackend } from './backend';
export * from './shapes';
export { referenceBackend } from './reference';
export { WasmBackend, createWasmBackend, kernelWasmPath } from './wasm';
