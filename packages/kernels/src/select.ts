import type { KernelBackend } from './backend';
import { referenceBackend } from './reference';
import { createWasmBackend } from './wasm';
import { requireGpuJsModule } from './gpujs/lazy';

/**
 * Names `--backend` accepts; `gpujs:<mode>` (e.g. `gpujs:headlessgl`) picks gpu.js's mode too, and
 * `wasm:im2col` is the wasm backend with Winograd switched off, `wasm:relaxed` / `wasm:plain` one build
 * of its kernels (for comparisons; `wasm` takes relaxed where the engine runs it).
 */
export const BACKEND_NAMES = ['auto', 'wasm', 'gpujs', 'reference'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number] | 'wasm:im2col' | 'wasm:relaxed' | 'wasm:plain' | `gpujs:${string}`;

export interface BackendOptions {
  /** gpu.js mode for `gpujs` (overridden by a `gpujs:<mode>` name); gpu.js picks when absent. */
  gpujsMode?: string;
}

export interface BackendSelection {
  backend: KernelBackend;
  /** Why this backend: shown to users when `auto` picked it, or what was asked for. */
  reason: string;
}

/**
 * What src/gpujs must export for selection. It is required lazily so that a missing or broken GL
 * stack (headless-gl is a native addon) never breaks `auto`, `wasm` or `reference`.
 */
interface GpuJsModule {
  createGpuJsBackend(options?: { mode?: string }): KernelBackend;
  /**
   * A description of a hardware GPU gpu.js can run on here (WebGPU adapter, GL renderer that is
   * not a software rasteriser), or null. Optional: without it `auto` stays on the CPU path.
   */
  probeHardwareGpu?(): string | null;
}

function loadGpuJs(): GpuJsModule {
  const loaded = requireGpuJsModule<Partial<GpuJsModule>>();
  if (typeof loaded.createGpuJsBackend !== 'function') {
    throw new Error('the gpu.js backend module does not export createGpuJsBackend');
  }
  return loaded as GpuJsModule;
}

/**
 * Creates the backend `name` asks for and says why. `auto` takes a hardware GPU through gpu.js when
 * one is found, otherwise the WebAssembly SIMD backend (the fastest CPU path: on a CPU-only machine
 * gpu.js's own WebAssembly and CPU modes are one to two orders of magnitude slower), and the plain-TS
 * reference only if WebAssembly cannot be loaded.
 */
export function selectBackend(name: string = 'auto', options: BackendOptions = {}): BackendSelection {
  if (name === 'reference') {
    return { backend: referenceBackend, reason: 'plain-TS reference backend, as requested (slow: the test oracle)' };
  }
  if (name === 'wasm') {
    const backend = createWasmBackend();
    return { backend, reason: `WebAssembly SIMD backend (${variantNote(backend.variant)}), as requested` };
  }
  if (name === 'wasm:relaxed' || name === 'wasm:plain') {
    const variant = name === 'wasm:relaxed' ? 'relaxed' : 'plain';
    return { backend: createWasmBackend({ variant }), reason: `WebAssembly SIMD backend, ${variantNote(variant)}, as requested` };
  }
  if (name === 'wasm:im2col') {
    return { backend: createWasmBackend({ winograd: false }), reason: 'WebAssembly SIMD backend without Winograd (im2col + GEMM only), as requested' };
  }
  if (name === 'gpujs' || name.startsWith('gpujs:')) {
    const mode = name.startsWith('gpujs:') ? name.slice('gpujs:'.length) : options.gpujsMode;
    let gpujs: GpuJsModule;
    try {
      gpujs = loadGpuJs();
    } catch (error) {
      throw new Error(`backend '${name}': gpu.js could not be loaded (${(error as Error).message}); use --backend wasm or auto`);
    }
    const backend = gpujs.createGpuJsBackend(mode === undefined ? {} : { mode });
    return { backend, reason: `gpu.js backend (${backend.name}), as requested` };
  }
  if (name === 'auto') return selectAuto();
  throw new RangeError(`unknown kernel backend '${name}'; expected one of ${BACKEND_NAMES.join(', ')}, wasm:relaxed, wasm:plain, wasm:im2col or gpujs:<mode>`);
}

function selectAuto(): BackendSelection {
  let gpuNote: string;
  try {
    const gpujs = loadGpuJs();
    const gpu = gpujs.probeHardwareGpu ? gpujs.probeHardwareGpu() : null;
    if (gpu) {
      const backend = gpujs.createGpuJsBackend({});
      return { backend, reason: `auto: hardware GPU found (${gpu}), using ${backend.name}` };
    }
    gpuNote = 'no hardware GPU for gpu.js here';
  } catch (error) {
    gpuNote = `gpu.js unavailable (${(error as Error).message.split('\n')[0]})`;
  }
  try {
    const backend = createWasmBackend();
    return { backend, reason: `auto: ${gpuNote}; using WebAssembly SIMD (${variantNote(backend.variant)}), the fastest CPU path` };
  } catch (error) {
    return {
      backend: referenceBackend,
      reason: `auto: ${gpuNote}; WebAssembly kernels failed to load (${(error as Error).message}); using the slow plain-TS reference`,
    };
  }
}

function variantNote(variant: 'relaxed' | 'plain'): string {
  return variant === 'relaxed' ? 'relaxed-SIMD build: fused multiply-add' : 'plain SIMD build: multiply + add';
}
