import { selectBackend, type KernelBackend } from '@convoy/kernels';

/**
 * The kernel backend a worker thread computes with, from kernels' selectBackend ('auto', 'wasm',
 * 'gpujs[:mode]', 'js', 'reference'), with the reason it was picked (shown by `describe`).
 * Each thread makes its own: kernels run single-threaded inside a worker.
 */
export function createKernelBackend(name: string): { backend: KernelBackend; reason: string } {
  return selectBackend(name);
}
