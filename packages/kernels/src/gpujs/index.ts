export { GpuJsBackend, createGpuJsBackend, type GpuJsBackendOptions } from './gpuJsBackend';
export { GPUJS_MODES, parseGpuJsMode, type GpuJsMode, type ResolvedGpuJsMode } from './modes';
export { gpuJsModesAvailable, probeGpuJsMode, headlessGlUnavailableReason, type GpuJsModeProbe } from './probe';
export { loadedGlDriver, probeHardwareGpu, type GlDriver } from './glDriver';
