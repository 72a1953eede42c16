import type { WorkerSetup, WorkerTask } from './protocol';

/**
 * The thread library under a GradientPool: something that runs protocol tasks on `setup.shards`
 * threads, each of which built its handler (taskHandler.ts) from `setup`. A task goes to any idle
 * thread; `run` settles with the handler's result, or rejects when the handler threw or its
 * thread died. piscinaRunner.ts is the Node one; a browser page supplies one over Web Workers.
 */
export interface TaskRunner {
  run(task: WorkerTask): Promise<unknown>;
  /** Stops every thread. */
  close(): Promise<void>;
}

/** Starts the threads for a pool's setup. */
export type TaskRunnerFactory = (setup: WorkerSetup) => TaskRunner;
