import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const dataDir = process.env.CIFAR10_DIR;
if (!dataDir) throw new Error('the e2e checks need real CIFAR-10: set CIFAR10_DIR to the folder holding data_batch_1.bin ... test_batch.bin');

const bin = join(__dirname, '..', 'bin', 'convoy.js');

interface Record {
  type: string;
  peakRssMiB?: number;
}

/** `convoy train` on 1,280 CIFAR-10 images (20 steps an epoch); the metrics log's epoch and final records. */
function train(dir: string, extra: string[]): Record[] {
  const args = [
    'train', '--data-dir', dataDir as string, '--no-download', '--threads', '2', '--limit-train', '1280', '--limit-test', '1000', '--batch-size', '64',
    '--width', '16', '--epochs', '4', '--checkpoint-dir', dir, ...extra,
  ];
  const run = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { ...process.env, NX_TASK_TARGET_PROJECT: '' } });
  expect({ code: run.status, err: run.stderr }).toEqual({ code: 0, err: '' });
  return readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record).filter((r) => r.type !== 'step' && r.type !== 'start');
}

describe('peak memory of a training run (built CLI, real CIFAR-10)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'convoy-memory-e2e-'));

  it('does not grow with the steps run: 80 steps with 4 evaluations of 1,000 test images peak within 10% of 10 steps with none', () => {
    // Each thread trains on 32 images at a time; an evaluation must not make it hold more (it used
    // to run 250 images per forward pass and keep their buffers: 1.55x the peak of 10 steps).
    const [stopped] = train(join(dir, 'short'), ['--max-steps', '10']);
    expect(stopped.type).toBe('stopped');
    const long = train(join(dir, 'long'), []);
    expect(long.map((r) => r.type)).toEqual(['epoch', 'epoch', 'epoch', 'epoch', 'end']);
    const base = stopped.peakRssMiB as number;
    expect(base).toBeGreaterThan(50);
    for (const r of long) expect(r.peakRssMiB).toBeLessThanOrEqual(1.1 * base);
  });
});
