import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { processAlive } from './processAlive';

/**
 * `<file>.tmp-<pid>-<random>`: where a file is written before its rename, so that a reader sees
 * it absent, old or complete, and a later run can tell whose leftover it is.
 */
export function temporaryPath(file: string): string {
  return `${file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
}

/** Removes the temporary files in `dir` whose writer (by the pid in the name) is gone. */
export function removeStaleTemporaries(dir: string): void {
  for (const name of fs.readdirSync(dir)) {
    const match = /\.tmp-(\d+)-[0-9a-f]+$/.exec(name);
    if (match && Number(match[1]) !== process.pid && !processAlive(Number(match[1]))) fs.rmSync(path.join(dir, name), { force: true });
  }
}
