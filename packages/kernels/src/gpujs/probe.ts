import { GPU } from 'gpu.js';
import { GPUJS_MODES, type GpuJsMode, type ResolvedGpuJsMode, resolvedModeOfKernelClass } from './modes';

export interface GpuJsModeProbe {
  /** The mode as requested. */
  mode: GpuJsMode;
  /** True when a test kernel ran synchronously in this mode and returned the right numbers. */
  available: boolean;
  /** The kernel class that really ran it (`gpu` resolves to one of the others); null when nothing ran. */
  runsOn: ResolvedGpuJsMode | null;
  /** Why the mode is unavailable (or what it fell back from); null when it ran as asked. */
  reason: string | null;
}

/**
 * Tries every gpu.js mode on a tiny kernel and says which work here and why the others do not.
 * Synchronous, and cheap once (GL context and module compiles are a few milliseconds to a few
 * hundred; call it once and keep the answer).
 */
export function gpuJsModesAvailable(): GpuJsModeProbe[] {
  return GPUJS_MODES.map(probeGpuJsMode);
}

export function probeGpuJsMode(mode: GpuJsMode): GpuJsModeProbe {
  if (mode === 'webgpu') return probeWebGpu();
  if (mode === 'webgl' || mode === 'webgl2') {
    if (mode === 'webgl' ? GPU.isWebGLSupported : GPU.isWebGL2Supported) return probeByRunning(mode);
    return unavailable(mode, `${mode} needs a browser canvas; in Node the GL mode is headlessgl`);
  }
  if (mode === 'headlessgl') {
    const whyNot = headlessGlUnavailableReason();
    if (whyNot) return unavailable(mode, whyNot);
  }
  return probeByRunning(mode);
}

function unavailable(mode: GpuJsMode, reason: string): GpuJsModeProbe {
  return { mode, available: false, runsOn: null, reason };
}

/** Sums rows of a 4x8 matrix of small integers: exact in every precision, so any mismatch is a broken mode. */
const probeKernelSource = `function probeRowSums(matrix) {
  let sum = 0.0;
  for (let i = 0; i < this.constants.columns; i++) {
    sum += matrix[this.thread.x * this.constants.columns + i];
  }
  return sum;
}`;

function probeByRunning(mode: GpuJsMode): GpuJsModeProbe {
  const rows = 4;
  const columns = 8;
  const matrix = Float32Array.from({ length: rows * columns }, (_, i) => (i % 7) - 3);
  let gpu: GPU | null = null;
  try {
    gpu = new GPU({ mode });
    const kernel = gpu.createKernel(probeKernelSource, {
      output: [rows],
      constants: { columns },
      precision: 'single',
      tactic: 'precision',
    });
    const result = kernel(matrix) as Float32Array;
    const runsOn = resolvedModeOfKernelClass((kernel as unknown as { kernel: object }).kernel.constructor);
    for (let r = 0; r < rows; r++) {
      let expected = 0;
      for (let c = 0; c < columns; c++) expected += matrix[r * columns + c];
      if (result[r] !== expected) {
        return { mode, available: false, runsOn, reason: `test kernel returned ${Array.from(result).join(',')}; row ${r} should be ${expected}` };
      }
    }
    const requested = mode === 'gpu' ? null : mode;
    const reason =
      requested !== null && runsOn !== requested
        ? `gpu.js fell back from ${requested} to ${runsOn}`
        : mode === 'gpu' && runsOn !== 'headlessgl' && runsOn !== 'webgl2' && runsOn !== 'webgl'
          ? `no GL context, so gpu.js's "gpu" mode runs ${runsOn}`
          : null;
    return { mode, available: requested === null || runsOn === requested, runsOn, reason };
  } catch (error) {
    return unavailable(mode, `gpu.js could not run a kernel in ${mode} mode: ${(error as Error).message}`);
  } finally {
    // destroy() only releases the probe's context; a failure there says nothing about the mode.
    gpu?.destroy().catch(() => undefined);
  }
}

/**
 * gpu.js's headlessgl mode needs the native `gl` module (built from source during npm install,
 * only when its install script is allowed) and an X display to create a context on.
 */
export function headlessGlUnavailableReason(): string | null {
  let createContext: (width: number, height: number, options?: object) => unknown;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    createContext = require('gl') as typeof createContext;
  } catch (error) {
    return (
      `the native module "gl" (headless-gl) does not load: ${firstLine(error)}. ` +
      'It builds from source during npm ci when its install script is allowed (root package.json ' +
      '"allowScripts": {"gl": true}) and the X11 headers are installed (Debian/Ubuntu: apt-get install libx11-dev libxi-dev libxext-dev pkg-config python3 make g++)'
    );
  }
  let context: unknown = null;
  try {
    context = createContext(1, 1);
  } catch (error) {
    return `headless-gl could not create a context: ${firstLine(error)}`;
  }
  if (!context) {
    const display = process.env.DISPLAY;
    return display
      ? `headless-gl could not create a GL context on DISPLAY=${display} (is the X server up, with Mesa's libgl1-mesa-dri?)`
      : 'headless-gl found no X display (DISPLAY is unset): run under `xvfb-run -a` with xvfb and libgl1-mesa-dri installed';
  }
  destroyGlContext(context);
  return null;
}

function destroyGlContext(context: unknown): void {
  const gl = context as { getExtension?(name: string): { destroy(): void } | null };
  gl.getExtension?.('STACKGL_destroy_context')?.destroy();
}

/**
 * gpu.js's WebGPU mode runs on Dawn through the npm `webgpu` package. Its kernels are
 * Promise-only (no synchronous read-back in WebGPU), so even where Dawn loads, the synchronous
 * KernelBackend cannot use them; the probe says both things.
 */
function probeWebGpu(): GpuJsModeProbe {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require('webgpu');
  } catch (error) {
    return unavailable(
      'webgpu',
      `the npm "webgpu" package (Dawn) does not load here: ${firstLine(error)}` +
        (/GLIBC/.test(String(error)) ? ' (its prebuilt binary needs a newer glibc/libstdc++ than this system has)' : ''),
    );
  }
  return unavailable(
    'webgpu',
    'Dawn loads, but gpu.js WebGPU kernels only return Promises (WebGPU has no synchronous read-back); ' +
      'the synchronous KernelBackend cannot run them (see the kernels README, "Awaiting a GPU backend")',
  );
}

function firstLine(error: unknown): string {
  return String(error instanceof Error ? error.message : error).split('\n')[0];
}
