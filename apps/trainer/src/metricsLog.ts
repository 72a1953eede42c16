import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

/** One line per optimizer step. */
export interface StepRecord {
  type: 'step';
  step: number;
  epoch: number;
  loss: number;
  lr: number;
  imagesPerSecond: number;
  /** Seconds since the run (or this resumed part of it) started. */
  elapsed: number;
}

/** One line per finished epoch, with the test-set evaluation. */
export interface EpochRecord {
  type: 'epoch';
  epoch: number;
  step: number;
  trainLoss: number;
  trainAccuracy: number;
  testLoss: number;
  testAccuracy: number;
  imagesPerSecond: number;
  epochSeconds: number;
  elapsed: number;
}

export type MetricsRecord = StepRecord | EpochRecord | ({ type: 'start' | 'end' | 'stopped' } & Record<string, unknown>);

/**
 * Appends JSON lines to a file (one record per line, appended so a resumed run continues the
 * same log). Each line is written with one synchronous append, so a crash never leaves half a line
 * in the middle of the file.
 */
export class MetricsLog {
  constructor(readonly path: string | undefined) {
    if (path) mkdirSync(dirname(path), { recursive: true });
  }

  write(record: MetricsRecord): void {
    if (!this.path) return;
    appendFileSync(this.path, `${JSON.stringify(record)}\n`);
  }
}
