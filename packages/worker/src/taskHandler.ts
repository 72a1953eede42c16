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

/**
 * A task runs the WorkerRuntime method named as its kind. Both tables are checked by the compiler:
 * a new kind must be listed here and have its method, and the method must take that kind's task.
 */
type TaskMethods = { [K in WorkerTask['kind']]: (task: Extract<WorkerTask, { kind: K }>) => unknown };
const TASK_KINDS: Record<WorkerTask['kind'], true> = { gradients: true, reduce: true, step: true, reduceStep: true, evaluate: true, logits: true, describe: true };

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
      if (!Object.hasOwn(TASK_KINDS, task.kind)) throw new TypeError(`unknown task kind '${(task as { kind: string }).kind}'`);
      const methods: TaskMethods = rt;
      return (methods[task.kind] as (task: WorkerTask) => unknown).call(rt, task);
    } catch (err) {
      const cause = err instanceof Error ? err : new Error(String(err));
      const wrapped = new Error(`worker thread ${threadId} (${describeTask(task)}): ${cause.message}`);
      wrapped.stack = `${wrapped.message}\n${(cause.stack ?? '').split('\n').slice(1).join('\n')}`;
      throw wrapped;
    }
  };
}
