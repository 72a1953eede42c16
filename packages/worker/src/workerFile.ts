import { existsSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The JavaScript file piscina loads in every thread. From the built package this is
 * dist/worker.js next to this file. When this module runs from source (jest maps @convoy/worker to
 * src/index.ts), it is ../dist/worker.js, which exists once the package is built; Nx's test target
 * builds first. `CONVOY_WORKER_FILE` (or the pool's `workerFile` option) overrides both.
 */
export function resolveWorkerFile(explicit?: string): string {
  if (explicit) {
    if (!existsSync(explicit)) throw new Error(`@convoy/worker: worker file ${explicit} does not exist`);
    return explicit;
  }
  const candidates = [process.env.CONVOY_WORKER_FILE, join(__dirname, 'worker.js'), join(__dirname, '..', 'dist', 'worker.js')].filter(
    (c): c is string => typeof c === 'string' && c !== '',
  );
  for (const file of candidates) if (existsSync(file)) return file;
  throw new Error(
    `@convoy/worker: cannot find the built worker script (looked at ${candidates.join(', ')}). ` +
      'Build the package first: npx nx run @convoy/worker:build (or npm run build from the repo root).',
  );
}
