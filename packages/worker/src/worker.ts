/**
 * The piscina task module: one instance per worker thread. piscina loads the BUILT file
 * (dist/worker.js); GradientPool finds it (see workerFile.ts). The setup arrives once as piscina
 * `workerData`; everything else is the thread-library-independent handler of taskHandler.ts.
 */
import { threadId, workerData } from 'node:worker_threads';
import type { WorkerSetup } from './protocol';
import { createTaskHandler } from './taskHandler';

export default createTaskHandler(workerData as WorkerSetup, threadId);
