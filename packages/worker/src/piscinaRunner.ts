import { Piscina } from 'piscina';
import type { WorkerSetup, WorkerTask } from './protocol';
import type { TaskRunner } from './taskRunner';
import { resolveWorkerFile } from './workerFile';

/** A TaskRunner on piscina; `piscina` is exposed for tests that must kill a thread. */
export interface PiscinaTaskRunner extends TaskRunner {
  readonly piscina: Piscina<WorkerTask, unknown>;
}

/** Node's task runner: a piscina pool of `setup.shards` threads running dist/worker.js (see resolveWorkerFile). */
export function piscinaRunner(workerFile?: string): (setup: WorkerSetup) => PiscinaTaskRunner {
  return (setup) => {
    const piscina = new Piscina<WorkerTask, unknown>({
      filename: resolveWorkerFile(workerFile),
      minThreads: setup.shards,
      maxThreads: setup.shards,
      // Threads hold a built model: never let piscina retire them between steps.
      idleTimeout: 2 ** 31 - 1,
      workerData: setup,
    });
    return {
      piscina,
      run: (task) => piscina.run(task),
      close: () => piscina.destroy(),
    };
  };
}
