export { WasmBackend, createWasmBackend } from './wasmBackend';
export { kernelWasmPath } from './kernelModule';
