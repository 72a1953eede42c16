import type { GpuJsBackend, GpuJsBackendOptions } from './gpuJsBackend';
import type { GpuJsModeProbe } from './probe';

/**
 * The package's public entry points to gpu.js, loading it on first use. Importing
 * @convoy/kernels must not load gpu.js and its native GL addon (nor pay its ~80 ms) in every
 * piscina worker that runs the WebAssembly backend; select.ts requires './gpujs' lazily for the
 * same reason.
 */
type GpuJsModule = typeof import('./index');

let loaded: GpuJsModule | null = null;
function gpujs(): GpuJsModule {
  loaded ??= requireGpuJsModule<GpuJsModule>();
  return loaded;
}

/**
 * Requires ./index (and with it gpu.js). gpu.js is an optional peer dependency: a CPU-only install
 * has none of its GL/WebGPU stack, so its absence is reported as something the user can fix.
 */
export function requireGpuJsModule<T>(): T {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('./index') as T;
  } catch (error) {
    const { code, message } = error as NodeJS.ErrnoException;
    if (code === 'MODULE_NOT_FOUND' && message.includes("'gpu.js'")) {
      throw new Error('gpu.js is not installed: it is an optional peer dependency of @convoy/kernels; `npm install gpu.js` adds it (its GL mode also builds `gl`)');
    }
    throw error;
  }
}

/** A gpu.js backend in the given mode (default `gpu`: GL where it works, else WebAssembly). */
export function createGpuJsBackend(options: GpuJsBackendOptions = {}): GpuJsBackend {
  return gpujs().createGpuJsBackend(options);
}

/** Tries every gpu.js mode on a tiny kernel: which work here, what each really runs on, and why not. */
export function gpuJsModesAvailable(): GpuJsModeProbe[] {
  return gpujs().gpuJsModesAvailable();
}

/** A hardware GPU the gpu.js GL path can use here, described, or null (none, or a software rasteriser). */
export function probeHardwareGpu(): string | null {
  return gpujs().probeHardwareGpu();
}
