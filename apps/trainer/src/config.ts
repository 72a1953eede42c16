import { isAbsolute, resolve } from 'node:path';
import type { TtaMode } from '@convoy/nn';

/** How a run executes; may change between the parts of a resumed run without changing its numbers (up to float summation order for threads). */
export interface ExecutionConfig {
  threads: number;
  backend: string;
  dataDir: string | null;
  download: boolean;
  /** Evaluate on the first-per-class subset of this many test images (null: all 10,000). */
  limitTest: number | null;
  /** Stop (with a checkpoint) once this many optimizer steps are done in total. */
  maxSteps: number | null;
  checkpointDir: string | null;
  log: string | null;
  /** Test-time augmentation measured beside the plain test numbers after the last epoch (absent or 'none': plain only). */
  tta?: TtaMode;
  /** Measure `tta` after every epoch, not only the last (each pass costs the mode's views in forward passes; default false). */
  ttaEachEpoch?: boolean;
  /**
   * Evaluate the test set after every n-th epoch and after the last (default 1: every epoch). A
   * test pass changes nothing the training reads, so the parameters are the same for any n; a
   * skipped epoch's log record has no test numbers.
   */
  testEvery?: number;
}

/**
 * A path the user typed, made absolute. Under an Nx target the command runs in the project folder
 * (apps/trainer), but the user typed paths relative to the workspace root, where they ran `nx`:
 * resolve against NX_WORKSPACE_ROOT then; otherwise against the current directory.
 */
export function userPath(path: string, env: NodeJS.ProcessEnv = process.env): string {
  if (isAbsolute(path)) return path;
  const base = env.NX_WORKSPACE_ROOT && env.NX_TASK_TARGET_PROJECT ? env.NX_WORKSPACE_ROOT : process.cwd();
  return resolve(base, path);
}
