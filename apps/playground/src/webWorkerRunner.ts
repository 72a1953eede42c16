import type { TaskRunner, TaskRunnerFactory, WorkerSetup, WorkerTask } from '@convoy/worker/portable';
import type { FromWorker, KernelWasm, ToWorker } from './workerMessages';

interface Pending {
  id: number;
  task: WorkerTask;
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
}

/**
 * The page's TaskRunner: `setup.shards` module Web Workers (gradientWorker.ts), each given the
 * setup once; a task goes to the first idle worker, as piscina does. A worker that fails to load
 * or throws outside a task rejects the task it had and takes no more (the page stops the run).
 */
export function webWorkerRunner(wasm: KernelWasm): TaskRunnerFactory {
  return (setup: WorkerSetup): TaskRunner => {
    const queue: Pending[] = [];
    const busy = new Map<Worker, Pending | null>();
    const dead = new Set<Worker>();
    let nextId = 0;
    let closed = false;

    const dispatch = () => {
      for (const [worker, current] of busy) {
        if (current || dead.has(worker) || queue.length === 0) continue;
        const job = queue.shift() as Pending;
        busy.set(worker, job);
        worker.postMessage({ type: 'task', id: job.id, task: job.task } satisfies ToWorker);
      }
      if (queue.length > 0 && dead.size === busy.size) {
        for (const job of queue.splice(0)) job.reject(new Error('every Web Worker of the pool has failed'));
      }
    };

    for (let k = 0; k < setup.shards; k++) {
      const worker = new Worker(new URL('./gradientWorker.ts', import.meta.url), { type: 'module', name: `convoy worker ${k + 1}` });
      busy.set(worker, null);
      worker.onmessage = (event: MessageEvent<FromWorker>) => {
        const job = busy.get(worker);
        if (!job || job.id !== event.data.id) return;
        busy.set(worker, null);
        if (event.data.type === 'result') job.resolve(event.data.value);
        else job.reject(new Error(event.data.message));
        dispatch();
      };
      worker.onerror = (event: ErrorEvent) => {
        event.preventDefault();
        dead.add(worker);
        const job = busy.get(worker);
        busy.set(worker, null);
        job?.reject(new Error(`Web Worker ${k + 1} failed: ${event.message || 'it could not be loaded'}`));
        dispatch();
      };
      worker.postMessage({ type: 'init', setup, threadId: k + 1, wasm } satisfies ToWorker);
    }

    return {
      run(task) {
        if (closed) return Promise.reject(new Error('the Web Worker pool is closed'));
        return new Promise((resolve, reject) => {
          queue.push({ id: nextId++, task, resolve, reject });
          dispatch();
        });
      },
      async close() {
        closed = true;
        for (const worker of busy.keys()) worker.terminate();
        for (const job of queue.splice(0)) job.reject(new Error('the Web Worker pool was closed'));
      },
    };
  };
}
