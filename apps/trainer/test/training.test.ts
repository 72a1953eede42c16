import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ParameterArena, relativeError } from '@convoy/tensor';
import { buildModel } from '@convoy/nn';
import { syntheticImageSet } from '@convoy/worker';
import { loadCheckpoint } from '../src/checkpoint';
import { BATCHNORM_NETWORK } from '../../../packages/worker/test/batchNormNetwork';
import { DEFAULT_RUN_CONFIG, modelSpecFor, type RunConfig } from '@convoy/run';
import type { ExecutionConfig } from '../src/config';
import { evaluateParameters } from '../src/evaluation';
import { runTraining } from '../src/training';
import { TrainingDivergedError, TrainingStepError } from '../src/trainingErrors';

// Tiny and fast: width 4, 64 synthetic images, batch 16 -> 4 steps per epoch.
const train = syntheticImageSet({ count: 64, seed: 21 });
const test = syntheticImageSet({ count: 30, seed: 22 });
const config: RunConfig = { ...DEFAULT_RUN_CONFIG, width: 4, batchSize: 16, epochs: 2, lr: 0.05 };
const specs = buildModel(modelSpecFor(config)).parameterSpecs();

function execution(overrides: Partial<ExecutionConfig> = {}): ExecutionConfig {
  return {
    threads: 2, backend: 'auto', dataDir: null, download: false, limitTest: null, maxSteps: null,
    checkpointDir: mkdtempSync(join(tmpdir(), 'convoy-train-')), log: null, ...overrides,
  };
}

/** Worst relative error over the parameter tensors (stricter than one figure for the whole arena). */
function worstTensorError(actual: Float32Array, expected: Float32Array): number {
  let worst = 0;
  for (const e of new ParameterArena(specs).entries) {
    worst = Math.max(worst, relativeError(actual.subarray(e.offset, e.offset + e.size), expected.subarray(e.offset, e.offset + e.size)));
  }
  return worst;
}

describe('runTraining', () => {
  it('a BatchNorm + dropout layer list: 1 thread equals 4 threads (parameters and running statistics), and a resume continues it exactly, buffers included', async () => {
    const c = { ...config, augment: true };
    const one = await runTraining({ config: c, modelSpec: BATCHNORM_NETWORK, execution: execution({ threads: 1 }), train, test });
    const four = await runTraining({ config: c, modelSpec: BATCHNORM_NETWORK, execution: execution({ threads: 4 }), train, test });
    expect(one.status).toBe('completed');
    expect(one.buffers.length).toBe(2 * (4 + 4 + 1));
    expect(relativeError(four.params, one.params)).toBeLessThan(1e-5);
    expect(relativeError(four.buffers, one.buffers)).toBeLessThan(1e-5);
    expect(four.lastEvaluation?.correct).toBe(one.lastEvaluation?.correct);
    const saved = loadCheckpoint(one.checkpoint!).state;
    expect(saved.modelSpec).toEqual(BATCHNORM_NETWORK);
    expect(saved.buffers.data).toEqual(one.buffers);
    expect(saved.buffers.entries.map((e) => e.name)).toContain('layers.3.layers.1.running_var');

    const partsExecution = execution({ threads: 2, maxSteps: 5 });
    const first = await runTraining({ config: c, modelSpec: BATCHNORM_NETWORK, execution: partsExecution, train, test });
    expect(first.status).toBe('max-steps');
    const checkpoint = loadCheckpoint(partsExecution.checkpointDir!).state;
    expect(checkpoint.buffers.data).toEqual(first.buffers);
    const resumed = await runTraining({ config: c, execution: { ...partsExecution, maxSteps: null }, train, test, resume: checkpoint });
    const straight = await runTraining({ config: c, modelSpec: BATCHNORM_NETWORK, execution: execution({ threads: 2 }), train, test });
    expect(resumed.params).toEqual(straight.params);
    expect(resumed.buffers).toEqual(straight.buffers);
    expect(resumed.lastEvaluation?.lossSum).toBe(straight.lastEvaluation?.lossSum);
  });


  it("airbench's optimizer pieces (a BatchNorm group at 64x the lr, Lookahead every 2 steps): 1 thread equals 2, a resume is exact, and the run ends on the averaged network", async () => {
    const c = { ...config, augment: true, batchNormLrScale: 64, batchNormWeightDecay: 5e-4 / 64, lookahead: 2, labelSmoothing: 0.2 };
    const one = await runTraining({ config: c, modelSpec: BATCHNORM_NETWORK, execution: execution({ threads: 1 }), train, test });
    const two = await runTraining({ config: c, modelSpec: BATCHNORM_NETWORK, execution: execution({ threads: 2 }), train, test });
    expect(one.status).toBe('completed');
    expect(relativeError(two.params, one.params)).toBeLessThan(1e-5);
    expect(relativeError(two.buffers, one.buffers)).toBeLessThan(1e-5);
    const saved = loadCheckpoint(one.checkpoint!).state;
    // After the last step the network takes the slow copy: what the run evaluates and saves is the average.
    expect(saved.lookahead?.params).toEqual(one.params);
    expect(saved.lookahead?.buffers).toEqual(one.buffers);
    // Each piece changes the numbers (a group or a sync that did nothing would not).
    const plainGroups = await runTraining({ config: { ...c, batchNormLrScale: 1, batchNormWeightDecay: null }, modelSpec: BATCHNORM_NETWORK, execution: execution({ threads: 1 }), train, test: null });
    const noLookahead = await runTraining({ config: { ...c, lookahead: 0 }, modelSpec: BATCHNORM_NETWORK, execution: execution({ threads: 1 }), train, test: null });
    expect(relativeError(plainGroups.params, one.params)).toBeGreaterThan(1e-3);
    expect(relativeError(noLookahead.params, one.params)).toBeGreaterThan(1e-3);
    expect(loadCheckpoint(noLookahead.checkpoint!).state.lookahead).toBeUndefined();

    const partsExecution = execution({ threads: 2, maxSteps: 3 });
    await runTraining({ config: c, modelSpec: BATCHNORM_NETWORK, execution: partsExecution, train, test: null });
    const checkpoint = loadCheckpoint(partsExecution.checkpointDir!).state;
    expect(checkpoint.lookahead?.params).not.toEqual(checkpoint.params); // mid-run: the network has moved on from the slow copy
    const resumed = await runTraining({ config: c, execution: { ...partsExecution, maxSteps: null }, train, test, resume: checkpoint });
    expect(resumed.params).toEqual(two.params);
    expect(resumed.buffers).toEqual(two.buffers);
    const { lookahead: _dropped, ...withoutCopy } = checkpoint;
    await expect(runTraining({ config: c, execution: { ...partsExecution, maxSteps: null }, train, test, resume: withoutCopy })).rejects.toThrow(/--lookahead\b.*no lookahead copy/);
  }, 240_000);

  it('refuses --whitening-bias-epochs for a network without a whitening layer, before any work', async () => {
    await expect(runTraining({ config: { ...config, whiteningBiasEpochs: 3 }, execution: execution(), train, test })).rejects.toThrow(/--whitening-bias-epochs needs a network whose first layer is a whitening conv/);
  });

  it.each([
    [false, 'crop-flip'],
    [true, 'crop-flip'],
    [true, 'alternating-flip-translate'],
  ] as const)('1 and 4 threads give the same parameters and checkpoints after 5 steps, into the second epoch (augment %s, %s)', async (augment, augmentation) => {
    const c = { ...config, augment, augmentation };
    const one = await runTraining({ config: c, execution: execution({ threads: 1, maxSteps: 5 }), train, test: null });
    const four = await runTraining({ config: c, execution: execution({ threads: 4, maxSteps: 5 }), train, test: null });
    expect(one.status).toBe('max-steps');
    expect(one.step).toBe(5);
    expect(four.step).toBe(5);
    expect(worstTensorError(four.params, one.params)).toBeLessThan(1e-5);

    const a = loadCheckpoint(one.checkpoint!).state;
    const b = loadCheckpoint(four.checkpoint!).state;
    expect([a.step, a.epoch, a.stepInEpoch]).toEqual([5, 1, 1]);
    expect(a.config.augmentation).toBe(augmentation);
    expect([b.step, b.epoch, b.stepInEpoch]).toEqual([5, 1, 1]);
    expect(worstTensorError(b.params, a.params)).toBeLessThan(1e-5);
    expect(relativeError(b.optimizer.state.momentumBuffer, a.optimizer.state.momentumBuffer)).toBeLessThan(1e-4);
    expect(a.params).toEqual(one.params);
  });

  it('2 epochs straight equal 1 epoch + resume + 1 epoch, bit for bit', async () => {
    const straight = await runTraining({ config, execution: execution(), train, test });
    expect(straight.status).toBe('completed');
    expect(straight.step).toBe(8);

    const partsExecution = execution({ maxSteps: 4 });
    const first = await runTraining({ config, execution: partsExecution, train, test });
    expect(first.status).toBe('max-steps');
    expect(first.epoch).toBe(1);
    const resumed = await runTraining({
      config, execution: { ...partsExecution, maxSteps: null }, train, test, resume: loadCheckpoint(partsExecution.checkpointDir!).state,
    });
    expect(resumed.status).toBe('completed');
    expect(resumed.step).toBe(8);
    expect(resumed.params).toEqual(straight.params);
    expect(loadCheckpoint(partsExecution.checkpointDir!).state.optimizer.state.momentumBuffer).toEqual(
      loadCheckpoint(straight.checkpoint!).state.optimizer.state.momentumBuffer,
    );
    expect(resumed.lastEvaluation?.correct).toBe(straight.lastEvaluation?.correct);
  });

  it('resumes exactly from the middle of an epoch after an interrupt (Ctrl-C)', async () => {
    const straight = await runTraining({ config, execution: execution(), train, test: null });
    const controller = new AbortController();
    const rt = execution();
    let updates = 0;
    const reporter = {
      startEpoch: () => undefined,
      endEpoch: () => undefined,
      log: () => undefined,
      update: () => {
        if (++updates === 3) controller.abort();
      },
    };
    const interrupted = await runTraining({ config, execution: rt, train, test: null, reporter, signal: controller.signal });
    expect(interrupted.status).toBe('interrupted');
    expect([interrupted.step, interrupted.epoch, interrupted.stepInEpoch]).toEqual([3, 0, 3]);
    const resumed = await runTraining({ config, execution: rt, train, test: null, resume: loadCheckpoint(rt.checkpointDir!).state });
    expect(resumed.params).toEqual(straight.params);
  });

  it('AdamW with a cosine schedule: exact resume of its two state arrays', async () => {
    // (Thread-count equivalence is checked with SGD above. AdamW divides by sqrt(v) + 1e-8, so gradient
    // elements that are pure float noise (~1e-10: dead ReLU channels at width 4) become visible updates;
    // across thread counts its parameters differ by ~1e-3 relative although the gradients agree to 3e-7.)
    const c: RunConfig = { ...config, optimizer: 'adamw', lr: 0.003, weightDecay: 0.01, schedule: 'cosine', warmup: 0.25 };
    const straight = await runTraining({ config: c, execution: execution({ threads: 3 }), train, test: null });
    const rt = execution({ threads: 3, maxSteps: 3 });
    await runTraining({ config: c, execution: rt, train, test: null });
    const resumed = await runTraining({ config: c, execution: { ...rt, maxSteps: null }, train, test: null, resume: loadCheckpoint(rt.checkpointDir!).state });
    expect(resumed.step).toBe(8);
    expect(resumed.params).toEqual(straight.params);
    const state = loadCheckpoint(rt.checkpointDir!).state.optimizer;
    expect(state.name).toBe('adamw');
    expect(Object.keys(state.state).sort()).toEqual(['expAvg', 'expAvgSq']);
    expect(state.state.expAvgSq).toEqual(loadCheckpoint(straight.checkpoint!).state.optimizer.state.expAvgSq);
    expect(state.state.expAvg).toEqual(loadCheckpoint(straight.checkpoint!).state.optimizer.state.expAvg);
  });

  it('writes a JSONL metrics log with steps and epochs', async () => {
    const rt = execution();
    const log = join(rt.checkpointDir!, 'metrics.jsonl');
    await runTraining({ config: { ...config, epochs: 1 }, execution: { ...rt, log }, train, test });
    const records = readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(records.map((r) => r.type)).toEqual(['start', 'step', 'step', 'step', 'step', 'epoch', 'end']);
    const step = records[1];
    expect(Object.keys(step)).toEqual(expect.arrayContaining(['step', 'epoch', 'loss', 'lr', 'imagesPerSecond']));
    const epoch = records[5];
    expect(epoch.testAccuracy).toBeGreaterThanOrEqual(0);
    expect(epoch.testAccuracy).toBeLessThanOrEqual(1);
    expect(epoch.step).toBe(4);
  });

  it('--tta measures the last epoch\'s test pass with and without test-time augmentation (as convoy eval --tta does), in the log and the checkpoint; --tta-each-epoch every epoch', async () => {
    const rt = execution({ tta: 'flip-translate' });
    const log = join(rt.checkpointDir!, 'metrics.jsonl');
    const run = await runTraining({ config, modelSpec: BATCHNORM_NETWORK, execution: { ...rt, log }, train, test });
    const tta = run.lastEvaluation?.tta;
    expect(tta?.mode).toBe('flip-translate');
    const alone = await evaluateParameters({ params: run.params, buffers: run.buffers, modelSpec: BATCHNORM_NETWORK, test, threads: 1, backend: 'auto', tta: 'flip-translate' });
    expect(run.lastEvaluation?.correct).toBe(alone.correct);
    expect(tta?.correct).toBe(alone.tta?.correct);
    expect(Math.abs(tta!.lossSum - alone.tta!.lossSum)).toBeLessThan(1e-5 * Math.abs(alone.tta!.lossSum));
    // The views differ from the plain image, so the augmented loss is another number.
    expect(tta!.lossSum).not.toBe(run.lastEvaluation!.lossSum);
    const epochs = readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((r) => r.type === 'epoch');
    expect(epochs.map((r) => r.tta)).toEqual([undefined, 'flip-translate']);
    expect(epochs[1].ttaTestAccuracy).toBe(tta!.accuracy);
    expect(epochs[1].ttaTestLoss).toBe(tta!.loss);
    expect(loadCheckpoint(run.checkpoint!).state.summary).toMatchObject({ tta: 'flip-translate', ttaTestAccuracy: tta!.accuracy });

    const each = execution({ tta: 'flip', ttaEachEpoch: true });
    const eachLog = join(each.checkpointDir!, 'metrics.jsonl');
    await runTraining({ config, modelSpec: BATCHNORM_NETWORK, execution: { ...each, log: eachLog }, train, test });
    const eachEpochs = readFileSync(eachLog, 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((r) => r.type === 'epoch');
    expect(eachEpochs.map((r) => r.tta)).toEqual(['flip', 'flip']);
  });

  it('--test-every 2 over 3 epochs tests after epochs 2 and 3 only, and trains the same parameters as testing every epoch', async () => {
    const c = { ...config, epochs: 3 };
    const sparse = execution({ testEvery: 2 });
    const sparseLog = join(sparse.checkpointDir!, 'metrics.jsonl');
    const skipping = await runTraining({ config: c, modelSpec: BATCHNORM_NETWORK, execution: { ...sparse, log: sparseLog }, train, test });
    const every = await runTraining({ config: c, modelSpec: BATCHNORM_NETWORK, execution: execution(), train, test });
    expect(skipping.params).toEqual(every.params);
    expect(skipping.buffers).toEqual(every.buffers);
    expect(skipping.lastEvaluation?.lossSum).toBe(every.lastEvaluation?.lossSum);
    const epochs = readFileSync(sparseLog, 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((r) => r.type === 'epoch');
    expect(epochs.map((r) => r.testAccuracy === null)).toEqual([true, false, false]);
    expect(epochs[2].testLoss).toBe(every.lastEvaluation?.loss);
  });

  it('stops on a NaN/Inf loss with a message naming the step', async () => {
    const attempt = runTraining({ config: { ...config, lr: 1e12, schedule: 'constant' }, execution: execution(), train, test: null });
    await expect(attempt).rejects.toThrow(TrainingDivergedError);
    await expect(attempt).rejects.toThrow(/\bdiverged\b.*\bstep \d+ \(epoch 1, batch \d+, lr 1\.000e\+12\)/);
  });

  it('fails the step with the step, the shard, the worker and the cause when a worker throws', async () => {
    const corrupt = syntheticImageSet({ count: 64, seed: 21 });
    corrupt.labels.fill(12); // out of range for 10 classes: the loss throws in every worker
    const attempt = runTraining({ config, execution: execution(), train: corrupt, test: null });
    await expect(attempt).rejects.toThrow(TrainingStepError);
    await expect(attempt).rejects.toThrow(
      /\bstep 1 \(epoch 1, batch 1\).*\b2 of 2 worker task\(s\).*\bshard 0\b.*\bworker thread \d+\b.*softmaxCrossEntropy: label 0 is 12\b/,
    );
  });

  it('says why the workers could not start', async () => {
    const attempt = runTraining({ config, execution: execution({ backend: 'no-such-backend' }), train, test: null });
    await expect(attempt).rejects.toThrow(/\bworker threads\b.*\bstart\b.*'no-such-backend'/);
  });

  it('explains a batch larger than the training set', async () => {
    await expect(runTraining({ config: { ...config, batchSize: 100 }, execution: execution(), train, test: null })).rejects.toThrow(
      /--batch-size 100\b.*\b64 images\b/,
    );
  });
});
