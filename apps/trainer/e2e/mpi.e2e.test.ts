import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { localMpirunArgs } from '@convoy/cluster';
import { relativeError } from '@convoy/tensor';
import type { CheckpointState } from '@convoy/run';
import { loadCheckpoint } from '../src/checkpoint';
import { countCpuList } from '../src/cpuAffinity';
import { BATCHNORM_NETWORK } from '../../../packages/worker/test/batchNormNetwork';

const dataDir = process.env.CIFAR10_DIR;
if (!dataDir) throw new Error('the e2e checks need real CIFAR-10: set CIFAR10_DIR to the folder holding data_batch_1.bin ... test_batch.bin');

const bin = join(__dirname, '..', 'bin', 'convoy.js');
const env = { ...process.env, NX_TASK_TARGET_PROJECT: '' };
const small = ['--backend', 'wasm', '--data-dir', dataDir, '--no-download', '--limit-train', '64', '--limit-test', '100', '--batch-size', '16', '--width', '4', '--seed', '3'];

interface Run {
  code: number | null;
  out: string;
  err: string;
}

/** `convoy train` in one process with `threads` threads, or under mpirun on `ranks` ranks of 1 thread (127.0.0.1). */
function train(split: { ranks: number; threads: number }, args: string[]): Run {
  const command = [bin, 'train', '--threads', String(split.threads), ...args];
  const r =
    split.ranks === 1
      ? spawnSync(process.execPath, command, { encoding: 'utf8', env })
      : spawnSync('mpirun', localMpirunArgs(split.ranks, [process.execPath, ...command]), { encoding: 'utf8', env, stdio: ['ignore', 'pipe', 'pipe'] });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** Largest relative error over the parameter tensors of two checkpoints. */
function worstTensorError(a: CheckpointState, b: CheckpointState): number {
  let worst = 0;
  for (const e of a.parameters) {
    worst = Math.max(worst, relativeError(a.params.subarray(e.offset, e.offset + e.size), b.params.subarray(e.offset, e.offset + e.size)));
  }
  return worst;
}

describe('convoy train across processes (mpirun -np 2 on 127.0.0.1, real CIFAR-10)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'convoy-mpi-e2e-'));
  const checkpointOf = (name: string) => loadCheckpoint(join(dir, name)).state;

  it.each([
    ['on', []],
    ['off', ['--no-augment']],
    ['alternating-flip-translate', ['--augmentation', 'alternating-flip-translate']],
  ])('gives the same parameters on 1 process x 1 thread, 1 x 2 and 2 processes x 1 after 5 steps (augmentation %s)', (augment, flag) => {
    const args = (name: string) => [...small, ...flag, '--epochs', '2', '--max-steps', '5', '--checkpoint-dir', join(dir, `${name}-${augment}`)];
    const oneByOne = train({ ranks: 1, threads: 1 }, args('1x1'));
    const oneByTwo = train({ ranks: 1, threads: 2 }, args('1x2'));
    const twoByOne = train({ ranks: 2, threads: 1 }, args('2x1'));
    for (const run of [oneByOne, oneByTwo, twoByOne]) expect({ code: run.code, err: run.err }).toEqual({ code: 0, err: expect.any(String) });
    // Each rank reports its place; rank 0 alone prints progress and writes the log and checkpoints.
    expect(twoByOne.err).toMatch(/^rank 0\/2 on host \S+ \(pid \d+\), 1 thread\(s\) on CPUs \S+$/m);
    expect(twoByOne.err).toMatch(/^rank 1\/2 on host \S+ \(pid \d+\), 1 thread\(s\) on CPUs \S+$/m);
    expect(twoByOne.out).toMatch(/2 ranks x 1 thread\(s\) \(this rank: 8 images per step\)/);
    expect(twoByOne.out.match(/stopped at --max-steps 5/g)).toHaveLength(1);
    const log = readFileSync(join(dir, `2x1-${augment}`, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string });
    expect(log.filter((r) => r.type === 'step')).toHaveLength(5);

    const [a, b, c] = ['1x1', '1x2', '2x1'].map((name) => checkpointOf(`${name}-${augment}`));
    expect(c.step).toBe(5);
    expect(worstTensorError(b, a)).toBeLessThan(1e-5);
    expect(worstTensorError(c, a)).toBeLessThan(1e-5);
    expect(relativeError(c.optimizer.state.momentumBuffer, a.optimizer.state.momentumBuffer)).toBeLessThan(1e-4);
    // The first epoch's test evaluation (4 steps per epoch), split over the ranks, sums to the single-process one.
    const epochRecord = (name: string) =>
      readFileSync(join(dir, name, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string; testAccuracy: number; testLoss: number }).find((r) => r.type === 'epoch');
    const [single, split] = [epochRecord(`1x1-${augment}`), epochRecord(`2x1-${augment}`)];
    expect(split?.testAccuracy).toBe(single?.testAccuracy);
    expect(split?.testLoss).toBeCloseTo(single?.testLoss ?? Number.NaN, 4);
  });

  it('trains a model file with BatchNorm (ghost groups of 4), a residual block and dropout, with a BatchNorm parameter group and Lookahead, the same on 1 x 1 thread, 1 x 2 and 2 processes x 1: parameters, running statistics, the Lookahead copy, test accuracy with and without --tta', () => {
    const modelFile = join(dir, 'bn.json');
    const { kind: _kind, classes: _classes, ...file } = BATCHNORM_NETWORK;
    writeFileSync(modelFile, JSON.stringify(file));
    const args = (name: string) => [
      '--backend', 'wasm', '--data-dir', dataDir, '--no-download', '--limit-train', '128', '--limit-test', '100', '--batch-size', '32', '--seed', '3',
      '--model', modelFile, '--epochs', '1', '--tta', 'flip-translate', '--checkpoint-dir', join(dir, `bn-${name}`),
      '--batch-norm-lr-scale', '8', '--batch-norm-weight-decay', '1e-5', '--lookahead', '2',
    ];
    const runs = [train({ ranks: 1, threads: 1 }, args('1x1')), train({ ranks: 1, threads: 2 }, args('1x2')), train({ ranks: 2, threads: 1 }, args('2x1'))];
    for (const run of runs) expect({ code: run.code, err: run.err }).toEqual({ code: 0, err: expect.any(String) });
    for (const run of runs) expect(run.out).toMatch(/completed( AT CHANCE \(collapsed\))?: step 4, epoch 1\/1 \| test accuracy [\d.]+%, [\d.]+% with TTA flip-translate \| [\d.]+ s training, [\d.]+ s wall/);
    const [a, b, c] = ['1x1', '1x2', '2x1'].map((name) => checkpointOf(`bn-${name}`));
    expect(a.summary.tta).toBe('flip-translate');
    expect(a.modelSpec.kind).toBe('layers');
    expect(a.buffers.entries.map((e) => e.name)).toEqual([
      'layers.1.running_mean', 'layers.1.running_var', 'layers.1.num_batches_tracked',
      'layers.3.layers.1.running_mean', 'layers.3.layers.1.running_var', 'layers.3.layers.1.num_batches_tracked',
    ]);
    // 4 steps of 8 ghost groups each, per BatchNorm layer (num_batches_tracked follows 4 means and 4 variances).
    expect(a.buffers.data[8]).toBe(32);
    // The run ends on Lookahead's slow copy, which every rank kept alike.
    expect(a.lookahead?.params).toEqual(a.params);
    for (const other of [b, c]) {
      expect(relativeError(other.lookahead!.params, a.lookahead!.params)).toBeLessThan(1e-5);
      expect(worstTensorError(other, a)).toBeLessThan(1e-5);
      expect(relativeError(other.buffers.data, a.buffers.data)).toBeLessThan(1e-5);
      expect(other.summary.testAccuracy).toBe(a.summary.testAccuracy);
      // Each rank's test-time-augmented sums are all-reduced with the plain ones.
      expect(other.summary.ttaTestAccuracy).toBe(a.summary.ttaTestAccuracy);
      expect(other.summary.ttaTestLoss as number).toBeCloseTo(a.summary.ttaTestLoss as number, 4);
    }
  });

  it("gives each rank its host's cores (--bind-to none), and warns with the fix when mpirun binds a rank to one core", () => {
    const machineCpus = cpus().length;
    const threads = Math.max(2, machineCpus);
    const command = [process.execPath, bin, 'train', '--threads', String(threads), ...small, '--epochs', '1', '--max-steps', '2'];
    // What a rank's worker threads may run on: the CPU list each rank reports (threads inherit the process's affinity).
    const rankCpus = (err: string) => [...err.matchAll(/^rank \d\/2 on host \S+ \(pid \d+\), \d+ thread\(s\) on CPUs (\S+)$/gm)].map((m) => m[1]);
    const bound = spawnSync('mpirun', [...localMpirunArgs(2, [...command, '--checkpoint-dir', join(dir, 'bound-none')])], { encoding: 'utf8', env, stdio: ['ignore', 'pipe', 'pipe'] });
    expect(bound.status).toBe(0);
    const lists = rankCpus(bound.stderr);
    expect(lists).toHaveLength(2);
    for (const list of lists) expect(countCpuList(list)).toBe(machineCpus);
    expect(bound.stderr).not.toMatch(/warning: .*bind/);
    if (machineCpus < 2) return; // one CPU: nothing to bind away
    // Open MPI's own default for a 2-rank job binds each rank to one core: convoy must say so, and how to fix it.
    const defaultArgs = localMpirunArgs(2, [...command, '--checkpoint-dir', join(dir, 'bound-default')]);
    const at = defaultArgs.indexOf('--bind-to');
    defaultArgs.splice(at, 2);
    const pinned = spawnSync('mpirun', defaultArgs, { encoding: 'utf8', env, stdio: ['ignore', 'pipe', 'pipe'] });
    expect(pinned.status).toBe(0);
    for (const list of rankCpus(pinned.stderr)) expect(countCpuList(list)).toBe(1);
    expect(pinned.stderr).toMatch(new RegExp(`warning: this process may run on CPU \\d+ of the machine's ${machineCpus}, but --threads is ${threads}: .*mpirun --bind-to none`));
  });

  it('resumes a 2-rank checkpoint on 1 process and a 1-process checkpoint on 2 ranks', () => {
    const straight = checkpointOf('1x1-on'); // 5 steps in one go (the test above)
    const args = (name: string, extra: string[]) => [...small, '--epochs', '2', '--checkpoint-dir', join(dir, name), ...extra];
    expect(train({ ranks: 2, threads: 1 }, args('two-then-one', ['--max-steps', '3'])).code).toBe(0);
    const resumedOnOne = train({ ranks: 1, threads: 1 }, args('two-then-one', ['--resume', join(dir, 'two-then-one'), '--max-steps', '5']));
    expect(resumedOnOne.out).toMatch(/resuming at step 3/);
    expect(train({ ranks: 1, threads: 1 }, args('one-then-two', ['--max-steps', '3'])).code).toBe(0);
    const resumedOnTwo = train({ ranks: 2, threads: 1 }, args('one-then-two', ['--resume', join(dir, 'one-then-two'), '--max-steps', '5']));
    expect(resumedOnTwo.code).toBe(0);
    expect(resumedOnTwo.out).toMatch(/resuming at step 3/);
    for (const name of ['two-then-one', 'one-then-two']) {
      const resumed = checkpointOf(name);
      expect(resumed.step).toBe(5);
      expect(worstTensorError(resumed, straight)).toBeLessThan(1e-5);
    }
  });

  it('stops every rank naming the rank and host when the ranks hold different datasets', () => {
    const rank = (limitTest: string) => ['-np', '1', process.execPath, bin, 'train', '--threads', '1', ...small, '--limit-test', limitTest, '--checkpoint-dir', join(dir, 'mismatch')];
    const r = spawnSync('mpirun', [...localMpirunArgs(2, []).filter((a) => a !== '-np' && a !== '2'), ...rank('100'), ':', ...rank('90')], {
      encoding: 'utf8', env, stdio: ['ignore', 'pipe', 'pipe'],
    });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(
      /error: rank \d\/2 on host \S+: .*\bdataset\b.*\brank 1\/2 on host \S+ .*\b64\b.*\b90\b.*\bsha256 [0-9a-f]{16}.*\brank 0 on host \S+ .*\b64\b.*\b100\b/,
    );
    expect(existsSync(join(dir, 'mismatch', 'latest.msgpack'))).toBe(false);
  });

  /** A long 2-rank run; resolves once rank 0 has checkpointed an epoch, with both ranks' pids and a way to await the end. */
  async function startLongRun(name: string, extra: string[]) {
    const child = spawn('mpirun', localMpirunArgs(2, [process.execPath, bin, 'train', '--threads', '1', ...small, '--epochs', '200', '--checkpoint-dir', join(dir, name), ...extra]), {
      env, stdio: ['ignore', 'pipe', 'pipe'],
    });
    const launcherPid = child.pid ?? 0;
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const ended = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal, at: Date.now() })));
    const deadline = Date.now() + 60000;
    while (!/epoch 2\/200: train loss/.test(out) || (err.match(/^rank \d\/2 .*\(pid \d+\)/gm) ?? []).length < 2) {
      if (Date.now() > deadline) throw new Error(`the run did not reach epoch 2 in 60 s:\n${out}\n${err}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const pid = (rank: number) => Number(new RegExp(`^rank ${rank}/2 on host \\S+ \\(pid (\\d+)\\)`, 'm').exec(err)?.[1]);
    return { pid, launcherPid, ended, output: () => ({ out, err }) };
  }

  it.each([['SIGINT'], ['SIGTERM']] as const)(
    'saves a final checkpoint when mpirun gets %s (Ctrl-C), and --resume continues it exactly',
    async (signal) => {
      const name = `interrupted-${signal}`;
      const run = await startLongRun(name, []);
      const sentAt = Date.now();
      process.kill(run.launcherPid, signal);
      const end = await run.ended;
      expect(end.at - sentAt).toBeLessThan(30000);
      expect(end.code).not.toBe(0);
      const { out, err } = run.output();
      // Both ranks were told by the launcher, voted, and stopped after the same step; rank 0 saved it.
      expect(err).toMatch(/rank 0\/2 on host \S+: SIGTERM during step \d+/);
      expect(err).toMatch(/rank 1\/2 on host \S+: SIGTERM during step \d+/);
      const saved = loadCheckpoint(join(dir, name)).state;
      expect(out).toContain(join(dir, name, 'latest.msgpack'));
      expect(out).toMatch(new RegExp(`interrupted\\b.*latest\\.msgpack\\b.*\\b${saved.step}\\b`));
      expect(saved.summary.reason).toBe('interrupted');
      // Resumed for two more steps, it equals an unbroken run of as many steps.
      const target = saved.step + 2;
      const resumed = train({ ranks: 2, threads: 1 }, [...small, '--epochs', '200', '--resume', join(dir, name), '--max-steps', String(target)]);
      expect(resumed.code).toBe(0);
      expect(resumed.out).toMatch(new RegExp(`resuming at step ${saved.step} `));
      const straight = train({ ranks: 1, threads: 1 }, [...small, '--epochs', '200', '--max-steps', String(target), '--checkpoint-dir', join(dir, `${name}-straight`)]);
      expect(straight.code).toBe(0);
      expect(worstTensorError(checkpointOf(name), checkpointOf(`${name}-straight`))).toBeLessThan(1e-5);
    },
    90000,
  );

  it("ends the job within 30 s naming the rank, host and cause when one rank's worker throws mid-run; the last checkpoint stays intact", () => {
    // Training sample 5 fails in the third epoch (4 steps an epoch), on whichever rank's shard holds it.
    const startedAt = Date.now();
    const r = spawnSync('mpirun', localMpirunArgs(2, [process.execPath, bin, 'train', '--threads', '1', ...small, '--epochs', '5', '--checkpoint-dir', join(dir, 'throws')]), {
      encoding: 'utf8', env: { ...env, CONVOY_TEST_FAULT: '2:5' }, stdio: ['ignore', 'pipe', 'pipe'], timeout: 60000,
    });
    expect(Date.now() - startedAt).toBeLessThan(30000);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(
      /error: rank \d\/2 on host \S+: .*\bstep \d+ \(epoch 3, batch \d\).*\bworker thread \d+\b.*\bshard \d\b.*\bsample 5\b.*\bepoch 3\b.*\bCONVOY_TEST_FAULT=2:5\b/,
    );
    expect(r.stderr).toMatch(/rank 0's last checkpoint is intact/);
    const kept = loadCheckpoint(join(dir, 'throws')).state;
    expect(kept.step).toBe(8);
    expect(kept.epoch).toBe(2);
  });

  it('stops every rank within 30 s naming rank, host and step when a rank is killed; rank 0 checkpoint intact and --resume continues', async () => {
    const run = await startLongRun('killed', []);
    const killedAt = Date.now();
    process.kill(run.pid(1), 'SIGKILL');
    const end = await run.ended;
    expect(end.at - killedAt).toBeLessThan(30000);
    expect(end.code).not.toBe(0);
    const { err } = run.output();
    expect(err).toMatch(/rank 0\/2 on host \S+: SIGTERM\b.*\bstep \d+ \(epoch \d+, batch \d+\).*\bcheckpoint\b/);
    const saved = loadCheckpoint(join(dir, 'killed'));
    expect(saved.state.step).toBeGreaterThanOrEqual(8);
    const resumed = train({ ranks: 1, threads: 1 }, [...small, '--resume', join(dir, 'killed'), '--max-steps', String(saved.state.step + 2)]);
    expect(resumed.code).toBe(0);
    expect(resumed.out).toMatch(new RegExp(`resuming at step ${saved.state.step} `));
  });

  it('stops the job with a message when a rank stops answering (--step-timeout)', async () => {
    const run = await startLongRun('stalled', ['--step-timeout', '3']);
    const stalled = run.pid(1);
    const stoppedAt = Date.now();
    process.kill(stalled, 'SIGSTOP');
    try {
      const end = await run.ended;
      expect(end.code).not.toBe(0);
      expect(end.at - stoppedAt).toBeLessThan(30000);
      // The stalled rank may be caught in a training step or in the end-of-epoch test-set evaluation.
      expect(run.output().err).toMatch(
        /error: rank 0\/2 on host \S+: .*(step \d+ \(epoch \d+, batch \d+\)|evaluation after epoch \d+ \(step \d+\)).*\b3 s\b.*\branks?\b/,
      );
    } finally {
      try {
        process.kill(stalled, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });
});
