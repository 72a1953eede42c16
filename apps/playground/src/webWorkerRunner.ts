import type { TaskRunner, TaskRunnerFactory, WorkerSetup, WorkerTask } from '@convoy/worker/portable';
import type { FromWorker, KernelWasm, ToWorker } from './workerMessages';

interface Pending {
  id: number;
  task: WorkerTask;
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
}

/** The page's Web Workers of the live run, for the e2e test's hook that makes one fail (main.ts). */
export const liveWorkers: Worker[] = [];

/**
 * The page's TaskRunner: `setup.shards` module Web Workers (gradientWorker.ts), each given the
 * setup once; a task goes to the first idle worker, as piscina does.
 *
 * A worker that fails (an error thrown outside a task) is terminated. If it held no task and had
 * finished one before, a fresh worker with the same setup takes its place: the step's state is on
 * shared memory, so the run goes on from where it is. If it held a task, that task is rejected
 * naming the worker, and the page stops the run with that message (a half-applied optimizer step
 * cannot be retried). A worker that fails before finishing any task (it could not load) is not
 * replaced; when none is left, the queued tasks are rejected. Nothing waits forever.
 */
export function webWorkerRunner(wasm: KernelWasm): TaskRunnerFactory {
  return (setup: WorkerSetup): TaskRunner => {
    const queue: Pending[] = [];
    const busy = new Map<Worker, Pending | null>();
    const proven = new Set<Worker>();
    let nextId = 0;
    let closed = false;
    liveWorkers.length = 0;

    const dispatch = () => {
      for (const [worker, current] of busy) {
        if (current || queue.length === 0) continue;
        const job = queue.shift() as Pending;
        busy.set(worker, job);
        worker.postMessage({ type: 'task', id: job.id, task: job.task } satisfies ToWorker);
      }
      if (queue.length > 0 && busy.size === 0) {
        for (const job of queue.splice(0)) job.reject(new Error('every Web Worker of the pool has failed'));
      }
    };

    const start = (k: number) => {
      const worker = new Worker(new URL('./gradientWorker.ts', import.meta.url), { type: 'module', name: `convoy worker ${k + 1}` });
      busy.set(worker, null);
      liveWorkers[k] = worker;
      worker.onmessage = (event: MessageEvent<FromWorker>) => {
        const job = busy.get(worker);
        if (!job || job.id !== event.data.id) return;
        busy.set(worker, null);
        proven.add(worker);
        if (event.data.type === 'result') job.resolve(event.data.value);
        else job.reject(new Error(event.data.message));
        dispatch();
      };
      worker.onerror = (event: ErrorEvent) => {
        event.preventDefault();
        const job = busy.get(worker);
        const cause = event.message || 'it could not be loaded';
        busy.delete(worker);
        worker.terminate();
        if (job) {
          job.reject(new Error(`Web Worker ${k + 1} failed during a task (${cause}); the run stopped at its last completed step`));
        } else if (proven.has(worker) && !closed) {
          console.warn(`Web Worker ${k + 1} failed between tasks (${cause}); a fresh one replaces it`);
          start(k);
        }
        dispatch();
      };
      worker.postMessage({ type: 'init', setup, threadId: k + 1, wasm } satisfies ToWorker);
    };
    for (let k = 0; k < setup.shards; k++) start(k);

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
        busy.clear();
        liveWorkers.length = 0;
        for (const job of queue.splice(0)) job.reject(new Error('the Web Worker pool was closed'));
      },
    };
  };
}
