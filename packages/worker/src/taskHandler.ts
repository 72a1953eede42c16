/**
 * The worker side of the protocol, independent of the thread library: one handler per thread,
 * given the setup and the thread's id. piscina's task module (worker.ts) exports it as its
 * default function; a browser's Web Worker calls it for each message. The runtime (model,
 * backend, shared views) is built lazily on the first task, so a failure there becomes a task
 * error with its cause, not a silent thread crash.
 */
import { describeTask, taskIndex, type WorkerSetup, type WorkerTask } from './protocol';
import { WorkerRuntime } from './workerRuntime';

export type TaskHandler = (task: WorkerTask) => Promise<unknown>;

export function createTaskHandler(setup: WorkerSetup, threadId: number): TaskHandler {
  let runtime: Promise<WorkerRuntime> | null = null;
  const owners = new Int32Array(setup.taskOwners);

  return async function handleTask(task: WorkerTask): Promise<unknown> {
    try {
      // Record that this thread runs the task's index before anything that could crash the thread.
      const index = taskIndex(task);
      if (index >= 0 && index < owners.length) Atomics.store(owners, index, threadId);
      runtime ??= WorkerRuntime.create(setup, threadId);
      const rt = await runtime;
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
        case 'logits':
          return rt.logits(task);
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
  };
}
