import { loadDnnl, NativeUnavailableError } from './dnnl';
import { NativeBackend, type NativePrecision } from './nativeBackend';
import { recipeParityProblem } from './parity';

/** A native backend and why, or null and the one-line reason it cannot run here. */
export type NativeSelection = { backend: NativeBackend; reason: string } | { backend: null; reason: string };

/**
 * The native backend for this thread if oneDNN is usable here: found, a version this binding speaks
 * and, with `checkParity` (what `--backend auto` asks for), agreeing with the plain-TS reference on
 * the recipe network's shapes. Never throws: a missing or refused library is a reason, not an error.
 */
export function selectNativeBackend({ checkParity = false, precision = 'f32' }: { checkParity?: boolean; precision?: NativePrecision } = {}): NativeSelection {
  let backend: NativeBackend;
  try {
    backend = new NativeBackend(loadDnnl(), { precision });
  } catch (error) {
    const reason = error instanceof NativeUnavailableError ? error.message : `oneDNN failed to start: ${(error as Error).message.split('\n')[0]}`;
    return { backend: null, reason };
  }
  if (checkParity) {
    let problem: string | null;
    try {
      problem = recipeParityProblem(backend);
    } catch (error) {
      problem = `failed on the recipe shapes: ${(error as Error).message.split('\n')[0]}`;
    }
    if (problem) {
      backend.dispose();
      return { backend: null, reason: `${backend.library} disagrees with the reference kernels (${problem})` };
    }
    return { backend, reason: `native backend on ${backend.library}, parity with the reference checked on the recipe shapes` };
  }
  return { backend, reason: `native backend on ${backend.library}${precision === 'bf16' ? ', bf16 convolutions (float32 weights and accumulation)' : ''}` };
}
