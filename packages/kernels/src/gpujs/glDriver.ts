import { readFileSync } from 'node:fs';
import { headlessGlUnavailableReason } from './probe';

/**
 * Which OpenGL driver headless-gl runs on, and whether it is real hardware.
 *
 * headless-gl goes through ANGLE, which answers "ANGLE" to RENDERER and offers no
 * WEBGL_debug_renderer_info, so the driver cannot be asked through GL. On Linux the driver is the
 * shared object the GL loader mapped into this process once a context exists: Mesa's
 * `<name>_dri.so` (swrast = llvmpipe/softpipe, software) or NVIDIA's libGLX_nvidia. Elsewhere the
 * answer is unknown, which counts as "not proven hardware".
 */
export interface GlDriver {
  /** e.g. 'swrast', 'iris', 'radeonsi', 'nvidia'; null when it cannot be told. */
  name: string | null;
  software: boolean;
}

const SOFTWARE_DRIVERS = new Set(['swrast', 'kms_swrast', 'llvmpipe', 'softpipe']);

/** Reads the driver from /proc/self/maps; call after a GL context exists. */
export function loadedGlDriver(): GlDriver {
  let maps: string;
  try {
    maps = readFileSync('/proc/self/maps', 'utf8');
  } catch {
    return { name: null, software: true };
  }
  if (/libGLX_nvidia\.so/.test(maps)) return { name: 'nvidia', software: false };
  const dri = /\/dri\/(\w+)_dri\.so/.exec(maps);
  if (dri) return { name: dri[1], software: SOFTWARE_DRIVERS.has(dri[1]) };
  return { name: null, software: true };
}

/**
 * A description of a hardware GPU gpu.js's synchronous GL path can use here, or null (no GL, or GL
 * on a software rasteriser, where the WebAssembly SIMD backend is far faster). WebGPU is not
 * considered: gpu.js's WebGPU kernels are Promise-only (see probe.ts).
 */
export function probeHardwareGpu(): string | null {
  if (headlessGlUnavailableReason() !== null) return null;
  // headlessGlUnavailableReason created (and destroyed) a context, so the driver is mapped by now
  const driver = loadedGlDriver();
  return driver.software ? null : `headless-gl on the ${driver.name} OpenGL driver`;
}
