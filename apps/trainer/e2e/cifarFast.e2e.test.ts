import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadCheckpoint } from '../src/checkpoint';

const dataDir = process.env.CIFAR10_DIR;
if (!dataDir) throw new Error('the e2e checks need real CIFAR-10: set CIFAR10_DIR to the folder holding data_batch_1.bin ... test_batch.bin');

const trainerDir = join(__dirname, '..');

describe('trainer:cifar-fast (airbench94 and its recipe), shortened', () => {
  it("runs the target's own command: airbench94's network, recipe and augmentation, then the accuracy with and without TTA and the wall time", () => {
    const dir = mkdtempSync(join(tmpdir(), 'convoy-cifar-fast-'));
    // The npm script nx runs, as nx runs it (paths resolve against the workspace root).
    const r = spawnSync('npm', ['run', '--silent', 'cifar-fast', '--', '--data-dir', dataDir, '--no-download', '--threads', '2', '--limit-train', '2048', '--limit-test', '500', '--epochs', '2', '--checkpoint-dir', dir], {
      cwd: trainerDir, encoding: 'utf8', env: { ...process.env, NX_WORKSPACE_ROOT: join(trainerDir, '..', '..'), NX_TASK_TARGET_PROJECT: 'trainer' },
    });
    expect({ code: r.status, err: r.stderr }).toEqual({ code: 0, err: expect.any(String) });
    expect(r.stdout).toMatch(/2 steps\/epoch of 1024/);
    // --test-every 10: the first epoch has no test pass, the last always has one.
    expect(r.stdout).toMatch(/epoch 1\/2: train loss [\d.]+ acc [\d.]+% \| [\d.]+ img\/s/);
    expect(r.stdout).toMatch(/epoch 2\/2: .*test loss [\d.]+ acc [\d.]+% \(500 images\) \| with TTA flip-translate: test loss [\d.]+ acc [\d.]+%/);
    expect(r.stdout).toMatch(/completed( AT CHANCE \(collapsed\))?: step 4, epoch 2\/2 \| test accuracy [\d.]+%, [\d.]+% with TTA flip-translate \| [\d.]+ s training, [\d.]+ s wall/);
    const saved = loadCheckpoint(dir).state;
    expect(saved.config).toMatchObject({
      batchSize: 1024, lr: 1.5, momentum: 0.85, schedule: 'linear', warmup: 0.23, labelSmoothing: 0.2, lookahead: 5,
      batchNormLrScale: 64, augmentation: 'alternating-flip-translate',
    });
    expect(saved.modelSpec).toMatchObject({ kind: 'layers' });
    expect(saved.summary.tta).toBe('flip-translate');
    const end = readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string; ttaTestAccuracy?: number }).filter((l) => l.type === 'epoch');
    expect(end[1].ttaTestAccuracy).toBeGreaterThanOrEqual(0);
  });
});
