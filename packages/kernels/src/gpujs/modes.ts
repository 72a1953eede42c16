/**
 * gpu.js 2.24 mode names, and which kernel class each one actually runs on.
 *
 * gpu.js picks silently: `gpu` means "the first of headlessgl, webgl2, webgl, webasm that is
 * supported", so in Node without a GL context it quietly becomes WebAssembly, and a kernel that a
 * backend cannot build falls back to CPU with only a console warning. Everything here exists to
 * name what really ran.
 */

/** Modes as `new GPU({ mode })` takes them (gpu.js 2.24, src/gpu.js). */
export const GPUJS_MODES = ['headlessgl', 'webgl2', 'webgl', 'webgpu', 'webasm', 'gpu', 'cpu'] as const;
export type GpuJsMode = (typeof GPUJS_MODES)[number];

/** The concrete backends a kernel can end up on (`gpu` is a choice among these, never one itself). */
export type ResolvedGpuJsMode = Exclude<GpuJsMode, 'gpu'>;

/**
 * Accepts gpu.js's names plus `wasm` for `webasm` (the name the CLI and docs use for
 * WebAssembly elsewhere in convoy). Throws with the list of valid names otherwise.
 */
export function parseGpuJsMode(mode: string): GpuJsMode {
  if (mode === 'wasm') return 'webasm';
  if ((GPUJS_MODES as readonly string[]).includes(mode)) return mode as GpuJsMode;
  throw new RangeError(`gpu.js mode "${mode}" is not one of ${GPUJS_MODES.join(', ')} (or wasm for webasm)`);
}

/**
 * Maps a gpu.js kernel instance (or kernel class) to the mode it runs. The class name is the one
 * reliable tag: HeadlessGLKernel inherits WebGLKernel's static `mode`, which says 'gpu'.
 */
const modeOfKernelClass: Record<string, ResolvedGpuJsMode> = {
  HeadlessGLKernel: 'headlessgl',
  WebGL2Kernel: 'webgl2',
  WebGLKernel: 'webgl',
  WebGPUKernel: 'webgpu',
  WebAssemblyKernel: 'webasm',
  CPUKernel: 'cpu',
};

export function resolvedModeOfKernelClass(kernelClass: { name: string } | null | undefined): ResolvedGpuJsMode {
  const mode = kernelClass ? modeOfKernelClass[kernelClass.name] : undefined;
  if (!mode) throw new Error(`gpu.js kernel class "${kernelClass?.name}" is not one this backend knows (gpu.js 2.24 expected)`);
  return mode;
}
