import { execFileSync } from 'child_process';
import * as path from 'path';
import { fillBatch } from '@convoy/data';
import { buildModel, softmaxCrossEntropy, type ModelSpec, type OptimizerSpec } from '@convoy/nn';
import { referenceBackend } from '@convoy/kernels';
import { ParameterArena, Tensor, relativeError } from '@convoy/tensor';
import { createTaskHandler, GradientPool, type TaskRunnerFactory } from '@convoy/worker';
import { createGradientPool, syntheticImageSet, WorkerTaskError, type PiscinaTaskRunner } from '@convoy/worker';
import { inProcessHosts } from './inProcessHosts';

const modelSpec: ModelSpec = { kind: 'recipe', resolution: 32, classes: 10, width: 4 };
const sgd: OptimizerSpec = { name: 'sgd', momentum: 0.9, nesterov: true, weightDecay: 5e-4 };
const train = syntheticImageSet({ count: 96, seed: 3 });
const test = syntheticImageSet({ count: 40, seed: 4 });
const BATCH = 16;

/** Runs `steps` steps from the same initial parameters and returns the final parameters. */
async function trainSteps(threads: number, steps: number, augment: boolean, backend = 'auto'): Promise<Float32Array> {
  const pool = await createGradientPool({ threads, modelSpec, backend, optimizer: sgd, train, test, maxBatch: BATCH, seed: 7 });
  try {
    for (let s = 0; s < steps; s++) {
      const indices = Array.from({ length: BATCH }, (_, i) => (s * 37 + i * 5) % train.count);
      const result = await pool.trainStep({ indices, epoch: 0, seed: 11, augment, hyper: { step: s, lr: 0.05 } });
      expect(result.stepped).toBe(true);
      expect(result.count).toBe(BATCH);
    }
    return pool.params.data.slice();
  } finally {
    await pool.close();
  }
}


describe('sample keys', () => {
  it('a pool on a copy of each batch, keyed by where the images came from, steps as the pool on the whole set', async () => {
    const whole = await trainSteps(2, 3, true);
    const staging = syntheticImageSet({ count: BATCH, seed: 99 });
    const bytes = 3 * 32 * 32;
    const pool = await createGradientPool({ threads: 2, modelSpec, optimizer: sgd, train: staging, maxBatch: BATCH, seed: 7 });
    try {
      for (let s = 0; s < 3; s++) {
        const indices = Array.from({ length: BATCH }, (_, i) => (s * 37 + i * 5) % train.count);
        indices.forEach((src, dst) => {
          staging.images.set(train.images.subarray(src * bytes, (src + 1) * bytes), dst * bytes);
          staging.labels[dst] = train.labels[src];
        });
        const local = Array.from({ length: BATCH }, (_, i) => i);
        expect((await pool.trainStep({ indices: local, sampleKeys: indices, epoch: 0, seed: 11, augment: true, hyper: { step: s, lr: 0.05 } })).stepped).toBe(true);
      }
      expect(Array.from(pool.params.data)).toEqual(Array.from(whole));
      await expect(pool.trainStep({ indices: [0, 1], sampleKeys: [4], epoch: 0, seed: 11, augment: true, hyper: { step: 3, lr: 0.05 } })).rejects.toThrow(/1 sample keys for 2 samples/);
    } finally {
      await pool.close();
    }
  });
});

/** 5 steps with the global batch split over `hosts` pools of `threads` threads; the parameters of every host. */
async function trainStepsOnHosts(hosts: number, threads: number, steps: number): Promise<Float32Array[]> {
  const reducers = inProcessHosts(hosts);
  const pools = await Promise.all(
    reducers.map((crossHost) => createGradientPool({ threads, modelSpec, optimizer: sgd, train, maxBatch: BATCH, seed: 7, crossHost })),
  );
  try {
    for (let s = 0; s < steps; s++) {
      const global = Array.from({ length: BATCH }, (_, i) => (s * 37 + i * 5) % train.count);
      const per = BATCH / hosts;
      const results = await Promise.all(
        pools.map((pool, h) =>
          pool.trainStep({ indices: global.slice(h * per, (h + 1) * per), globalBatch: BATCH, epoch: 0, seed: 11, augment: true, hyper: { step: s, lr: 0.05 } }),
        ),
      );
      for (const r of results) {
        expect(r.stepped).toBe(true);
        expect(r.count).toBe(BATCH);
        expect(r.loss).toBeCloseTo(results[0].loss, 6);
      }
    }
    return pools.map((p) => p.params.data.slice());
  } finally {
    await Promise.all(pools.map((p) => p.close()));
  }
}

/**
 * Why the pool's threads could not run the native backend, or null. Asked the way the threads ask
 * (Node's own resolution from the worker's build, not the test's module mapping), with auto's check.
 */
function nativeProblemInThreads(): string | null {
  // In a child Node process: jest's module registry would answer with the test's mapping.
  const script =
    "try { const s = require('@convoy/native').selectNativeBackend({ checkParity: true }); console.log(s.backend ? '' : s.reason); }" +
    " catch (e) { console.log(e.message.split('\\n')[0]); }";
  const answer = execFileSync(process.execPath, ['-e', script], { cwd: path.join(__dirname, '../dist'), encoding: 'utf8' }).trim();
  return answer === '' ? null : answer;
}

/** Largest per-parameter-tensor relative error (stricter than one over the whole arena). */
function worstTensorError(pool: Pick<GradientPool, 'parameterSpecs'>, actual: Float32Array, expected: Float32Array): number {
  const arena = new ParameterArena(pool.parameterSpecs);
  let worst = 0;
  for (const e of arena.entries) {
    worst = Math.max(worst, relativeError(actual.subarray(e.offset, e.offset + e.size), expected.subarray(e.offset, e.offset + e.size)));
  }
  return worst;
}

describe('GradientPool', () => {
  it.each([false, true])('gives the same parameters with 1 and 4 threads after 5 steps (augment %s)', async (augment) => {
    const one = await trainSteps(1, 5, augment);
    const four = await trainSteps(4, 5, augment);
    const specs = buildModel(modelSpec).parameterSpecs();
    expect(worstTensorError({ parameterSpecs: specs }, four, one)).toBeLessThan(1e-5);
    // And training moved them: the comparison is not of untouched initial values.
    const init = await createGradientPool({ threads: 1, modelSpec, optimizer: sgd, train, maxBatch: BATCH, seed: 7 });
    const initial = init.params.data.slice();
    await init.close();
    expect(relativeError(one, initial)).toBeGreaterThan(1e-3);
  });

  // The oneDNN backend (@convoy/native) where the pool's threads find it and oneDNN is installed;
  // CI (CONVOY_NATIVE_TESTS=1) requires it.
  const nativeProblem = nativeProblemInThreads();
  const native = nativeProblem === null;
  if (!native && process.env.CONVOY_NATIVE_TESTS === '1') throw new Error(`CONVOY_NATIVE_TESTS=1 but the native backend cannot run: ${nativeProblem}`);
  if (!native) console.warn(`native-backend pool tests skipped: ${nativeProblem}`);
  (native ? it : it.skip)('on the native backend too: 1 and 3 threads give the same parameters', async () => {
    const one = await trainSteps(1, 5, true, 'native');
    const three = await trainSteps(3, 5, true, 'native');
    expect(worstTensorError({ parameterSpecs: buildModel(modelSpec).parameterSpecs() }, three, one)).toBeLessThan(1e-5);
  });

  (native ? it : it.skip)('a network trained on the native backend scores the same on WebAssembly kernels', async () => {
    const pool = await createGradientPool({ threads: 2, modelSpec, backend: 'native', optimizer: sgd, train, test, maxBatch: BATCH, seed: 7 });
    let trained: Float32Array;
    let onNative: { correct: number; loss: number };
    try {
      expect((await pool.describe()).map((d) => d.backend)).toEqual(['native', 'native']);
      for (let s = 0; s < 6; s++) {
        const indices = Array.from({ length: BATCH }, (_, i) => (s * 37 + i * 5) % train.count);
        await pool.trainStep({ indices, epoch: 0, seed: 11, augment: false, hyper: { step: s, lr: 0.05 } });
      }
      trained = pool.params.data.slice();
      onNative = await pool.evaluate('test');
    } finally {
      await pool.close();
    }
    const wasm = await createGradientPool({ threads: 2, modelSpec, backend: 'wasm', optimizer: sgd, train, test, maxBatch: BATCH, seed: 7 });
    try {
      wasm.params.data.set(trained);
      const onWasm = await wasm.evaluate('test');
      expect(onWasm.correct).toBe(onNative.correct);
      expect(onWasm.loss).toBeCloseTo(onNative.loss, 4);
    } finally {
      await wasm.close();
    }
  });

  it('gives the same parameters on 2 hosts x 1 thread as on 1 host x 2 threads (cross-host reducer between reduce and step)', async () => {
    const oneHost = await trainSteps(2, 5, true);
    const [a, b] = await trainStepsOnHosts(2, 1, 5);
    expect(b).toEqual(a); // every host steps the same numbers
    const specs = buildModel(modelSpec).parameterSpecs();
    expect(worstTensorError({ parameterSpecs: specs }, a, oneHost)).toBeLessThan(1e-5);
  });

  it('runs the same protocol on any task runner: handlers called in this thread give piscina threads\' parameters', async () => {
    const threaded = await trainSteps(2, 3, true);
    // Two handlers (what a browser's Web Workers run), each with its own runtime, called directly.
    const inThisThread: TaskRunnerFactory = (setup) => {
      const handlers = [createTaskHandler(setup, 1), createTaskHandler(setup, 2)];
      let next = 0;
      return { run: (task) => handlers[next++ % handlers.length](task), close: async () => undefined };
    };
    const pool = new GradientPool({ threads: 2, modelSpec, backend: 'auto', optimizer: sgd, train, test, maxBatch: BATCH, seed: 7 }, inThisThread);
    for (let s = 0; s < 3; s++) {
      const indices = Array.from({ length: BATCH }, (_, i) => (s * 37 + i * 5) % train.count);
      expect((await pool.trainStep({ indices, epoch: 0, seed: 11, augment: true, hyper: { step: s, lr: 0.05 } })).stepped).toBe(true);
    }
    await pool.close();
    expect(worstTensorError({ parameterSpecs: buildModel(modelSpec).parameterSpecs() }, pool.params.data, threaded)).toBeLessThan(1e-5);
  });

  it('steps no host when one host diverges', async () => {
    const [reducerA, reducerB] = inProcessHosts(2);
    const a = await createGradientPool({ threads: 1, modelSpec, optimizer: sgd, train, maxBatch: BATCH, seed: 1, crossHost: reducerA });
    const b = await createGradientPool({ threads: 1, modelSpec, optimizer: sgd, train, maxBatch: BATCH, seed: 1, crossHost: reducerB });
    try {
      b.params.data.fill(1e30, 0, 200); // only host b overflows
      const before = a.params.data.slice();
      const request = { globalBatch: 4, epoch: 0, seed: 1, augment: false, hyper: { step: 0, lr: 0.1 } };
      const [ra, rb] = await Promise.all([a.trainStep({ ...request, indices: [0, 1] }), b.trainStep({ ...request, indices: [2, 3] })]);
      expect(ra.stepped).toBe(false);
      expect(rb.stepped).toBe(false);
      expect(ra.diverged).toMatch(/another host/);
      expect(a.params.data).toEqual(before);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it.each([0, 0.2])('averages the gradient exactly as one in-process full-batch backward pass (label smoothing %s)', async (labelSmoothing) => {
    const pool = await createGradientPool({ threads: 3, modelSpec, backend: 'reference', optimizer: sgd, train, maxBatch: BATCH, seed: 5 });
    try {
      const indices = Array.from({ length: 10 }, (_, i) => i * 7);
      const summary = await pool.computeGradients({ indices, epoch: 2, seed: 9, augment: true, labelSmoothing });
      await pool.reduce(1 / indices.length);

      const model = buildModel(modelSpec, { backend: referenceBackend });
      const params = new ParameterArena(model.parameterSpecs());
      params.data.set(pool.params.data);
      const grads = new ParameterArena(model.parameterSpecs());
      model.bind(params, grads);
      const images = new Float32Array(10 * 3072);
      const labels = new Int32Array(10);
      fillBatch(train, Uint32Array.from(indices), 0, 10, images, labels, { augment: true, seed: 9, epoch: 2 });
      const logits = model.forward(new Tensor(images, [10, 3, 32, 32]));
      const { loss, gradLogits } = softmaxCrossEntropy(logits, labels, 'mean', undefined, { labelSmoothing });
      model.backward(gradLogits);
      // Smoothing moves the loss by more than the comparison below tolerates: a pool that dropped it would fail.
      if (labelSmoothing > 0) expect(Math.abs(loss - softmaxCrossEntropy(logits, labels, 'mean').loss)).toBeGreaterThan(2e-5);

      expect(summary.lossSum / summary.count).toBeCloseTo(loss, 5);
      expect(relativeError(pool.gradient, grads.data)).toBeLessThan(1e-5);
    } finally {
      await pool.close();
    }
  });

  it('evaluates data-parallel: the same loss and accuracy at any thread count', async () => {
    const results = [];
    for (const threads of [1, 3]) {
      const pool = await createGradientPool({ threads, modelSpec, optimizer: sgd, train, test, maxBatch: BATCH, seed: 5, evalChunk: 7 });
      try {
        results.push(await pool.evaluate('test', undefined, undefined, 'flip-translate'));
      } finally {
        await pool.close();
      }
    }
    expect(results[0].count).toBe(40);
    // Test-time augmentation beside the plain numbers, the same at any thread count too.
    expect(results[0].tta?.mode).toBe('flip-translate');
    expect(results[1].tta?.correct).toBe(results[0].tta?.correct);
    expect(results[1].tta?.loss).toBeCloseTo(results[0].tta?.loss ?? Number.NaN, 5);
    expect(results[0].tta?.loss).not.toBe(results[0].loss);
    expect(results[1].correct).toBe(results[0].correct);
    expect(results[1].loss).toBeCloseTo(results[0].loss, 5);
    expect(results[0].accuracy).toBe(results[0].correct / 40);
  });

  it('a pool that trains evaluates in forward passes of its largest training shard, so no thread grows its buffers past its training step', async () => {
    const trains = await createGradientPool({ threads: 3, modelSpec, optimizer: sgd, train, test, maxBatch: BATCH, seed: 5 });
    const evaluates = await createGradientPool({ threads: 3, modelSpec, train, test, maxBatch: 1, seed: 5 });
    const chunked = await createGradientPool({ threads: 3, modelSpec, optimizer: sgd, train, test, maxBatch: BATCH, seed: 5, evalChunk: 7 });
    try {
      // 16 images over 3 threads: shards of 6, 5 and 5.
      expect(trains.evalChunk).toBe(6);
      expect(evaluates.evalChunk).toBe(250);
      expect(chunked.evalChunk).toBe(7);
      // How the images are chunked does not change what is measured (each image's logits are its own).
      const [a, b] = [await trains.evaluate('test'), await chunked.evaluate('test')];
      expect(a.correct).toBe(b.correct);
      expect(a.loss).toBeCloseTo(b.loss, 6);
    } finally {
      await Promise.all([trains.close(), evaluates.close(), chunked.close()]);
    }
  });

  it('returns the logits of a range data-parallel: those of one in-process forward pass, at any thread count', async () => {
    // The in-process reference: the same parameters, the same (unaugmented, normalised) images.
    const model = buildModel(modelSpec, { backend: referenceBackend });
    const pool1 = await createGradientPool({ threads: 1, modelSpec, train, test, maxBatch: BATCH, seed: 5, evalChunk: 7 });
    const pool3 = await createGradientPool({ threads: 3, modelSpec, train, test, maxBatch: BATCH, seed: 5, evalChunk: 7 });
    try {
      const arena = new ParameterArena(model.parameterSpecs());
      arena.data.set(pool1.params.data);
      model.bind(arena, new ParameterArena(model.parameterSpecs()));
      const x = new Float32Array(13 * 3 * 32 * 32);
      fillBatch(test, Uint32Array.from({ length: 13 }, (_, i) => 20 + i), 0, 13, x, new Int32Array(13), { augment: false, seed: 0, epoch: 0 });
      const expected = model.forward(new Tensor(x, [13, 3, 32, 32])).data;
      const one = await pool1.logits('test', 20, 33);
      const three = await pool3.logits('test', 20, 33);
      expect(one.length).toBe(13 * 10);
      expect(relativeError(one, expected)).toBeLessThan(1e-5);
      expect(relativeError(three, expected)).toBeLessThan(1e-5);
      expect((await pool3.logits('test')).length).toBe(40 * 10);
      await expect(pool3.logits('test', 30, 41)).rejects.toThrow(/^logits: .*\[30, 41\).*\b40 test images\b/);
    } finally {
      await Promise.all([pool1.close(), pool3.close()]);
    }
  });

  it('fails the step with the shard and the cause when a worker throws', async () => {
    const pool = await createGradientPool({ threads: 2, modelSpec, backend: 'no-such-backend', optimizer: sgd, train, maxBatch: BATCH, seed: 1 });
    try {
      const attempt = pool.trainStep({ indices: [0, 1, 2, 3], epoch: 0, seed: 1, augment: false, hyper: { step: 0, lr: 0.1 } });
      await expect(attempt).rejects.toThrow(WorkerTaskError);
      await expect(attempt).rejects.toThrow(/\bshard 0\b.*\bworker thread \d+\b.*'no-such-backend'/);
    } finally {
      await pool.close();
    }
  });

  it('fails the step naming the shard and its thread when that thread dies mid-step', async () => {
    const pool = await createGradientPool({ threads: 2, modelSpec, optimizer: sgd, train, maxBatch: 256, seed: 1 });
    try {
      await pool.computeGradients({ indices: [0, 1], epoch: 0, seed: 1, augment: false }); // threads are up
      const indices = Array.from({ length: 256 }, (_, i) => i % train.count);
      // Kill the thread that has shard 0 once it has picked it up (not after a fixed delay: on a
      // loaded machine the task may not have reached a thread yet, and piscina would rerun it elsewhere).
      const { runner, taskOwners } = pool as unknown as { runner: PiscinaTaskRunner; taskOwners: Int32Array };
      taskOwners.fill(-1);
      const step = pool.computeGradients({ indices, epoch: 0, seed: 1, augment: false });
      const deadline = Date.now() + 30_000;
      while (Atomics.load(taskOwners, 0) < 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 1));
      const owner = Atomics.load(taskOwners, 0);
      const victim = runner.piscina.threads.find((thread) => thread.threadId === owner);
      expect(victim).toBeDefined();
      void victim!.terminate();
      await expect(step).rejects.toThrow(/\b1 of 2 worker task\(s\).*\bshard \d \(worker thread \d+\).*\bexited\b/);
    } finally {
      await pool.close();
    }
  });

  it('rejects bad options with clear messages', async () => {
    await expect(createGradientPool({ threads: 0, modelSpec, optimizer: sgd, train, maxBatch: 4 })).rejects.toThrow(/\bthreads\b.*>= 1.*\b0$/);
    await expect(createGradientPool({ threads: 1, modelSpec, optimizer: sgd, train, maxBatch: 4, params: new Float32Array(3) })).rejects.toThrow(
      /given 3 parameters, the model has \d+/,
    );
  });

  it('names a malformed image set the threads received instead of reading past it', async () => {
    const broken = { ...syntheticImageSet({ count: 8, seed: 1 }), count: 9 }; // 9 claimed, 8 stored
    const pool = await createGradientPool({ threads: 1, modelSpec, optimizer: sgd, train: broken, maxBatch: 4, seed: 1 });
    try {
      await expect(pool.describe()).rejects.toThrow(/\btraining set\b.*\b9\b.*\b3x32x32\b.*\b27648\b.*\b9 labels\b.*\b24576 and 8\b/);
    } finally {
      await pool.close();
    }
  });

  it('keeps the parameters when the loss diverges', async () => {
    const pool = await createGradientPool({ threads: 2, modelSpec, optimizer: sgd, train, maxBatch: BATCH, seed: 1 });
    try {
      pool.params.data[0] = Number.POSITIVE_INFINITY;
      pool.params.data.fill(1e30, 1, 200);
      const before = pool.params.data.slice();
      const result = await pool.trainStep({ indices: [0, 1, 2, 3], epoch: 0, seed: 1, augment: false, hyper: { step: 0, lr: 0.1 } });
      expect(result.stepped).toBe(false);
      expect(Number.isFinite(result.loss)).toBe(false);
      expect(pool.params.data).toEqual(before);
    } finally {
      await pool.close();
    }
  });
});
