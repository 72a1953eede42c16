import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { syntheticImageSet } from '@convoy/worker';
import { BEST_CHECKPOINT, DEFAULT_RUN_CONFIG, type RunConfig } from '@convoy/run';
import { loadCheckpoint } from '../src/checkpoint';
import type { ExecutionConfig } from '../src/config';
import { csvPathFor, CSV_COLUMNS } from '../src/metricsLog';
import { runTraining } from '../src/training';

const train = syntheticImageSet({ count: 96, classes: 3, seed: 31 });
const test = syntheticImageSet({ count: 30, classes: 3, seed: 32 });
const config: RunConfig = { ...DEFAULT_RUN_CONFIG, width: 4, batchSize: 16, epochs: 4, optimizer: 'adamw', lr: 0.001, schedule: 'constant', augment: false };

function execution(dir: string, overrides: Partial<ExecutionConfig> = {}): ExecutionConfig {
  return { threads: 2, backend: 'auto', dataDir: null, download: false, limitTest: null, maxSteps: null, checkpointDir: dir, log: join(dir, 'metrics.jsonl'), ...overrides };
}

describe('what a run leaves beside its checkpoints', () => {
  it('names the CSV after the JSONL log', () => {
    expect(csvPathFor('/r/metrics.jsonl')).toBe('/r/metrics.csv');
    expect(csvPathFor('/r/log.json')).toBe('/r/log.csv');
    expect(csvPathFor('/r/log')).toBe('/r/log.csv');
  });

  it('metrics.csv: one row per epoch with the JSONL values, one header, continued across a resume; best.msgpack: the best test accuracy so far, kept across the resume', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'convoy-outputs-'));
    // Stop after epoch 2 (6 steps per epoch), then resume: the CSV continues and the best is remembered.
    const first = await runTraining({ config, execution: execution(dir, { maxSteps: 12 }), train, test });
    expect(first.status).toBe('max-steps');
    const resumed = loadCheckpoint(join(dir, 'latest.msgpack')).state;
    await runTraining({ config, execution: execution(dir), train, test, resume: resumed });

    const epochs = readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((r) => r.type === 'epoch');
    expect(epochs.map((r) => r.epoch)).toEqual([1, 2, 3, 4]);
    // The process's own report of its peak memory, in MiB, never falling.
    const peaks = epochs.map((r) => r.peakRssMiB as number);
    expect(peaks[0]).toBeGreaterThan(10);
    peaks.slice(1).forEach((peak, i) => expect(peak).toBeGreaterThanOrEqual(peaks[i]));
    const [header, ...rows] = readFileSync(join(dir, 'metrics.csv'), 'utf8').trim().split('\n');
    expect(header).toBe('epoch,step,train_loss,train_accuracy,test_loss,test_accuracy,images_per_second,epoch_seconds,elapsed_seconds');
    expect(rows).toHaveLength(4);
    rows.forEach((row, i) => expect(row.split(',').map(Number)).toEqual(CSV_COLUMNS.map(([, key]) => epochs[i][key])));

    const accuracies = epochs.map((r) => r.testAccuracy as number);
    const bestEpoch = accuracies.indexOf(Math.max(...accuracies)) + 1; // the first epoch reaching the maximum
    // This run (0, 1/3, 1/3, 1/3 here) improves once before the resume and ties after it, so a best
    // forgotten at the resume, or a tie taken as better, would move best.msgpack to a later epoch.
    expect(accuracies[0]).toBeLessThan(accuracies[1]);
    expect(bestEpoch).toBe(2);
    expect(Math.max(...accuracies.slice(2))).toBe(accuracies[1]);
    const best = loadCheckpoint(join(dir, BEST_CHECKPOINT)).state;
    expect(best.epoch).toBe(bestEpoch);
    expect(best.summary).toMatchObject({ testAccuracy: accuracies[bestEpoch - 1], bestTestAccuracy: accuracies[bestEpoch - 1], bestEpoch });
    expect(best.params).toEqual(loadCheckpoint(join(dir, `epoch-${String(bestEpoch).padStart(3, '0')}.msgpack`)).state.params);
    expect(loadCheckpoint(dir).state.summary).toMatchObject({ bestTestAccuracy: Math.max(...accuracies), bestEpoch });
  });

  it('writes no best.msgpack when nothing is evaluated', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'convoy-outputs-'));
    await runTraining({ config: { ...config, epochs: 1 }, execution: execution(dir), train, test: null });
    expect(existsSync(join(dir, BEST_CHECKPOINT))).toBe(false);
    expect(readFileSync(join(dir, 'metrics.csv'), 'utf8').trim().split('\n')[1].split(',').slice(4, 6)).toEqual(['', '']);
  });
});
