/**
 * One Web Worker of the page's pool: the same task handler piscina threads run under Node
 * (@convoy/worker's createTaskHandler), fed by postMessage instead of piscina. The kernels'
 * WebAssembly bytes come with the setup, since a browser has no dist/ folder to read them from.
 */
import { provideKernelWasm } from '@convoy/kernels';
import { createTaskHandler, type TaskHandler } from '@convoy/worker/portable';
import type { FromWorker, ToWorker } from './workerMessages';

const scope = self as unknown as { onmessage: ((event: MessageEvent<ToWorker>) => void) | null; postMessage(message: FromWorker): void };
let handle: TaskHandler | null = null;

scope.onmessage = (event) => {
  const message = event.data;
  if (message.type === 'init') {
    provideKernelWasm('relaxed', message.wasm.relaxed);
    provideKernelWasm('plain', message.wasm.plain);
    handle = createTaskHandler(message.setup, message.threadId);
    return;
  }
  if (message.type === 'fail') {
    setTimeout(() => {
      throw new Error(message.message);
    });
    return;
  }
  const { id, task } = message;
  if (!handle) {
    scope.postMessage({ type: 'error', id, message: 'the worker received a task before its setup' });
    return;
  }
  handle(task).then(
    (value) => scope.postMessage({ type: 'result', id, value }),
    (error: unknown) => scope.postMessage({ type: 'error', id, message: error instanceof Error ? error.message : String(error) }),
  );
};
