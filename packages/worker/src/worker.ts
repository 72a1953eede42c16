/**
 * The piscina task module: one instance per worker thread. piscina loads the BUILT file
 * (dist/worker.js); GradientPool finds it (see workerFile.ts). The setup arrives once as piscina
 * `workerData`; the runtime (model, backend, shared views) is built lazily on the first task so a
 * failure there becomes a task error with its cause, not a silent thread crash.
 */
import { threadId, workerData } from 'node:worker_threads';
import { describeTask, taskIndex, type WorkerSetup, type WorkerTask } from './protocol';
import { WorkerRuntime } from './workerRuntime';

let runtime: Promise<WorkerRuntime> | null = null;

function getRuntime(): Promise<WorkerRuntime> {
  if (!runtime) runtime = WorkerRuntime.create(workerData as WorkerSetup);
  return runtime;
}

let owners: Int32Array | null = null;

/** Records that this thread runs the task's index (before anything that could crash the thread). */
function claimIndex(task: WorkerTask): void {
  const index = taskIndex(task);
  owners ??= new Int32Array((workerData as WorkerSetup).taskOwners);
  if (index >= 0 && index < owners.length) Atomics.store(owners, index, threadId);
}

export default async function handleTask(task: WorkerTask): Promise<unknown> {
  try {
    claimIndex(task);
    const rt = await getRuntime();
    switch (task.kind) {
      case 'gradients':
        return rt.gradients(task);
      case 'reduce':
        return rt.reduce(task);
      case 'step':
        return rt.step(task);
      case 'reduceStep':
        return rt.reduceStep(task);
      case 'evaluate':
        return rt.evaluate(task);
      case 'describe':
        return rt.describe();
      default:
        throw new TypeError(`unknown task kind '${(task as { kind: string }).kind}'`);
    }
  } catch (err) {
    const cause = err instanceof Error ? err : new Error(String(err));
    const wrapped = new Error(`worker thread ${threadId} (${describeTask(task)}): ${cause.message}`);
    wrapped.stack = `${wrapped.message}\n${(cause.stack ?? '').split('\n').slice(1).join('\n')}`;
    throw wrapped;
  }
}
