import { appendFileSync, existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Collapse } from '@convoy/run';

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
  /** Whether the epoch's training loss or test accuracy was at chance (@convoy/run's detectCollapse), and the numbers; null when not. */
  collapse: Collapse | null;
  /** peakRssMiB() after the epoch and its evaluation. */
  peakRssMiB: number;
}

/**
 * The most memory this process has held at once so far (its peak resident set, worker threads
 * included: they are threads of the process), in MiB to 0.1: what a memory budget is checked
 * against, in the process's own report.
 */
export function peakRssMiB(): number {
  return Math.round((10 * process.resourceUsage().maxRSS) / 1024) / 10;
}

export type MetricsRecord = StepRecord | EpochRecord | ({ type: 'start' | 'end' | 'stopped' } & Record<string, unknown>);

/** The CSV beside a JSONL log: `metrics.jsonl` -> `metrics.csv` (any other name gets `.csv` in place of its ending). */
export function csvPathFor(logPath: string): string {
  return /\.jsonl?$/i.test(logPath) ? logPath.replace(/\.jsonl?$/i, '.csv') : `${logPath}.csv`;
}

/**
 * The CSV columns: one row per epoch, the columns PyTorch Lightning's CSVLogger users look for
 * (snake_case, epoch and step first). `test_*` is the held-out set the run evaluates on.
 */
/** The numeric fields of an epoch record: the CSV's columns come from these. */
type EpochNumber = { [K in keyof EpochRecord]: EpochRecord[K] extends number ? K : never }[keyof EpochRecord];

export const CSV_COLUMNS: ReadonlyArray<[string, EpochNumber]> = [
  ['epoch', 'epoch'],
  ['step', 'step'],
  ['train_loss', 'trainLoss'],
  ['train_accuracy', 'trainAccuracy'],
  ['test_loss', 'testLoss'],
  ['test_accuracy', 'testAccuracy'],
  ['images_per_second', 'imagesPerSecond'],
  ['epoch_seconds', 'epochSeconds'],
  ['elapsed_seconds', 'elapsed'],
];

/**
 * Appends JSON lines to a file (one record per line, appended so a resumed run continues the
 * same log), and each epoch record also as a row of the CSV beside it (`csvPathFor`; the header
 * is written when the CSV is new). Each line is written with one synchronous append, so a crash
 * never leaves half a line in the middle of a file. An epoch run again after a resume from a
 * mid-epoch checkpoint appears twice; the later line is the one that counts.
 */
export class MetricsLog {
  readonly csvPath: string | undefined;

  constructor(readonly path: string | undefined) {
    this.csvPath = path ? csvPathFor(path) : undefined;
    if (path) mkdirSync(dirname(path), { recursive: true });
  }

  write(record: MetricsRecord): void {
    if (!this.path) return;
    appendFileSync(this.path, `${JSON.stringify(record)}\n`);
    if (record.type === 'epoch' && this.csvPath) {
      const fresh = !existsSync(this.csvPath) || statSync(this.csvPath).size === 0;
      const row = CSV_COLUMNS.map(([, key]) => (Number.isFinite(record[key]) ? String(record[key]) : '')).join(',');
      appendFileSync(this.csvPath, `${fresh ? `${CSV_COLUMNS.map(([name]) => name).join(',')}\n` : ''}${row}\n`);
    }
  }
}
