import { selectBackend, type BackendSelection, type KernelBackend } from '@convoy/kernels';

/** What @convoy/native exports for selection (declared here: the worker does not depend on its types). */
interface NativeModule {
  selectNativeBackend(options?: { checkParity?: boolean; precision?: 'f32' | 'bf16' }): { backend: KernelBackend | null; reason: string };
}

/** `--backend native` and the names kernels' selectBackend knows. */
export const NATIVE_BACKEND = 'native';
/** `--backend native:bf16`: the native backend's bfloat16 convolutions (an option, never auto's choice). */
export const NATIVE_BF16_BACKEND = 'native:bf16';

/**
 * @convoy/native is an optional peer dependency (it brings koffi and needs oneDNN): required on first
 * use, so that a run without it never loads it. Returns the module or why it is not there.
 */
function requireNative(): NativeModule | string {
  if (typeof require !== 'function') return 'no native code in this environment';
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('@convoy/native') as NativeModule;
  } catch (error) {
    const { code, message } = error as NodeJS.ErrnoException;
    if (code === 'MODULE_NOT_FOUND' && message.includes("'@convoy/native'")) return '@convoy/native is not installed (npm install @convoy/native)';
    return `@convoy/native does not load: ${message.split('\n')[0]}`;
  }
}

/**
 * The kernel backend a worker thread runs, and why. `native` is the oneDNN backend of
 * @convoy/native (an error saying what is missing when it cannot run), `native:bf16` the same with
 * bfloat16 convolutions; `auto` takes it only when it
 * loads and agrees with the reference kernels on the recipe shapes, and otherwise says why not and
 * goes on with kernels' own `auto` (WebAssembly on a CPU); every other name is kernels' selectBackend.
 */
export function selectWorkerBackend(name: string): BackendSelection {
  if (name === NATIVE_BACKEND || name === NATIVE_BF16_BACKEND) {
    const native = requireNative();
    const precision = name === NATIVE_BF16_BACKEND ? 'bf16' : 'f32';
    const selected = typeof native === 'string' ? { backend: null, reason: native } : native.selectNativeBackend({ precision });
    if (!selected.backend) throw new Error(`backend '${name}': ${selected.reason}; use --backend wasm or auto`);
    return { backend: selected.backend, reason: `${selected.reason}, as requested` };
  }
  if (name !== 'auto') return selectBackend(name);
  const native = requireNative();
  const selected = typeof native === 'string' ? { backend: null, reason: native } : native.selectNativeBackend({ checkParity: true });
  if (selected.backend) return { backend: selected.backend, reason: `auto: ${selected.reason}` };
  const fallback = selectBackend('auto');
  return { backend: fallback.backend, reason: `auto: native backend not taken (${selected.reason}); ${fallback.reason.replace(/^auto: /, '')}` };
}
