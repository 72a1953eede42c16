import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { BEST_CHECKPOINT, checkpointStateOf, LATEST_CHECKPOINT, type CheckpointSource, type CheckpointState } from '@convoy/run';
import { saveCheckpoint } from './checkpoint';

export interface RunPosition {
  /** Optimizer steps done in total. */
  step: number;
  /** The epoch in progress (0-based). */
  epoch: number;
  /** Batches of `epoch` already trained on. */
  stepInEpoch: number;
}

/** Everything of a checkpoint that does not change while the run goes on (the pool's arrays are read at each save). */
export type RunIdentity = Omit<CheckpointSource, 'position' | 'summary'>;

/**
 * The run's checkpoint files in one folder (none when `dir` is null: the ranks other than 0, or no
 * --checkpoint-dir): latest.msgpack after every epoch and every stop, epoch-NNN.msgpack per epoch,
 * best.msgpack for the best test accuracy, which every checkpoint's summary carries so a resumed
 * run keeps it.
 */
export class RunCheckpoints {
  /** The checkpoint written last in this invocation. */
  last: string | null = null;
  private best: { bestTestAccuracy: number; bestEpoch: unknown } | null;

  constructor(private readonly dir: string | null, private readonly identity: RunIdentity, resumed?: CheckpointState) {
    const resumedBest = resumed?.summary.bestTestAccuracy;
    this.best = typeof resumedBest === 'number' ? { bestTestAccuracy: resumedBest, bestEpoch: resumed?.summary.bestEpoch } : null;
  }

  /** The checkpoint a failure leaves intact: the last written, else the folder's latest (maybe from an earlier invocation). */
  get kept(): string | null {
    return this.last ?? (this.dir ? join(this.dir, LATEST_CHECKPOINT) : null);
  }

  /** Whether `testAccuracy` after `epochs` completed epochs is the best so far (and remember it if so). */
  recordEpoch(testAccuracy: number, epochs: number): boolean {
    const isBest = Number.isFinite(testAccuracy) && (this.best === null || testAccuracy > this.best.bestTestAccuracy);
    if (isBest) this.best = { bestTestAccuracy: testAccuracy, bestEpoch: epochs };
    return isBest;
  }

  /** Writes latest.msgpack (and the epoch's file, and best.msgpack when asked); returns latest's path, or null without a folder. */
  save(position: RunPosition, summary: Record<string, unknown>, files: { epochFile: boolean; isBest?: boolean }): string | null {
    if (!this.dir) return null;
    mkdirSync(this.dir, { recursive: true });
    const state = checkpointStateOf({ ...this.identity, position, summary: { ...summary, ...this.best } });
    if (files.epochFile) saveCheckpoint(join(this.dir, `epoch-${String(position.epoch).padStart(3, '0')}.msgpack`), state);
    if (files.isBest) saveCheckpoint(join(this.dir, BEST_CHECKPOINT), state);
    const latest = join(this.dir, LATEST_CHECKPOINT);
    saveCheckpoint(latest, state);
    this.last = latest;
    return latest;
  }
}
