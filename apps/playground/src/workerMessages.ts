import type { WorkerSetup, WorkerTask } from '@convoy/worker/portable';

/** The kernels' two WebAssembly builds, fetched once by the page and handed to every worker. */
export interface KernelWasm {
  relaxed: Uint8Array;
  plain: Uint8Array;
}

/** Page -> Web Worker. `init` comes first and once; its SharedArrayBuffers are shared, not copied. */
export type ToWorker =
  | { type: 'init'; setup: WorkerSetup; threadId: number; wasm: KernelWasm }
  | { type: 'task'; id: number; task: WorkerTask }
  /** Test hook (e2e): throw outside any task once idle, as a bug in the worker would. */
  | { type: 'fail'; message: string };

/** Web Worker -> page: the handler's result or its error, for the task with that id. */
export type FromWorker = { type: 'result'; id: number; value: unknown } | { type: 'error'; id: number; message: string };
