import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CIFAR10_CLASS_NAMES, CIFAR10_IMAGE_BYTES, CIFAR10_RECORD_BYTES, lumaOf } from '@convoy/data';
import { buildModel, checkModelFile, initialParameters, type LayerModelSpec } from '@convoy/nn';
import { checkpointStateOf, DEFAULT_RUN_CONFIG, encodeCheckpoint, type CheckpointState } from '@convoy/run';
import { ParameterArena, relativeError, Rng } from '@convoy/tensor';
import type { Page } from 'playwright-core';
import { classify } from '../src/classify';
import { withPlaygroundPage } from './browser';
import { downloadCheckpoint, latestCheckpoint, openWithServerData, resumeWithCli, trainInPage, trainWithCli, type RunSettings } from './runs';

// The page in Debian's Chromium against the `convoy` CLI on the same real CIFAR-10: 20 steps on 2
// Web Workers must give the CLI's parameters for the same seed (2 piscina threads), and the CLI's
// checkpoint must load in the page and classify an image as Node does.
const dataDir = process.env.CIFAR10_DIR;
const haveData = Boolean(dataDir && existsSync(join(dataDir, 'test_batch.bin')));
if (!haveData) console.log(`CIFAR-10 not found (CIFAR10_DIR=${dataDir ?? ''}): the playground's browser check was not run`);
const describeWithData = haveData ? describe : describe.skip;

const STEPS = 20;
const run: RunSettings = { model: 'recipe', classes: '', limitTrain: 1280, epochs: 2, batchSize: 64, lr: 0.05, width: 16, seed: 7, workers: 2, maxSteps: STEPS };
/** Where the screenshot (and the page's checkpoint) go; printed by the test. */
const outputDir = process.env.PLAYGROUND_E2E_OUTPUT ?? join(tmpdir(), 'convoy-playground-e2e');

/**
 * The checkpoint of a grey (1-channel) network for two classes, as `convoy train --data <grey
 * folder>` would write one, with its initial values and BatchNorm's fresh running statistics.
 */
function greyCheckpoint(optimizerStateNames: string[]): CheckpointState {
  const file = {
    input: { channels: 1, resolution: 32 },
    layers: [
      { type: 'conv2d', out: 8, kernel: 3, padding: 1, bias: false }, { type: 'batchnorm2d' }, { type: 'relu' }, { type: 'maxpool2d', kernel: 2 },
      { type: 'conv2d', out: 8, kernel: 3, padding: 1 }, { type: 'relu' }, { type: 'globalavgpool2d' }, { type: 'flatten' }, { type: 'linear', out: 'classes' },
    ],
  };
  const modelSpec: LayerModelSpec = { kind: 'layers', classes: 2, ...checkModelFile(file, 2).spec };
  const rng = new Rng(5);
  const params = initialParameters(modelSpec, rng);
  const model = buildModel(modelSpec);
  const buffers = new ParameterArena(model.bufferSpecs());
  model.bindBuffers(buffers);
  model.resetBuffers();
  return checkpointStateOf({
    config: { ...DEFAULT_RUN_CONFIG, seed: 5 }, modelSpec, classNames: ['dark', 'light'], normalization: { mean: [0.45], std: [0.25] },
    params, buffers, optimizerState: Object.fromEntries(optimizerStateNames.map((name) => [name, new Float32Array(params.size)])),
    position: { step: 0, epoch: 0, stepInEpoch: 0 }, rngState: rng.getState(), summary: {},
  });
}

/** A 32 x 32 24-bit BMP of CIFAR-10 test image `index` (planar RGB bytes): a file a visitor could drop. */
function testImageAsBmp(index: number): { bmp: Buffer; pixels: Uint8Array } {
  const bytes = readFileSync(join(dataDir as string, 'test_batch.bin'));
  const at = index * CIFAR10_RECORD_BYTES;
  const pixels = new Uint8Array(bytes.subarray(at + 1, at + CIFAR10_RECORD_BYTES));
  const bmp = Buffer.alloc(54 + CIFAR10_IMAGE_BYTES);
  bmp.write('BM', 0, 'ascii');
  bmp.writeUInt32LE(bmp.length, 2);
  bmp.writeUInt32LE(54, 10);
  bmp.writeUInt32LE(40, 14);
  bmp.writeInt32LE(32, 18);
  bmp.writeInt32LE(32, 22);
  bmp.writeUInt16LE(1, 26);
  bmp.writeUInt16LE(24, 28);
  bmp.writeUInt32LE(CIFAR10_IMAGE_BYTES, 34);
  for (let y = 0; y < 32; y++) {
    for (let x = 0; x < 32; x++) {
      const p = y * 32 + x;
      const o = 54 + ((31 - y) * 32 + x) * 3; // rows bottom-up, BGR
      bmp[o] = pixels[2048 + p];
      bmp[o + 1] = pixels[1024 + p];
      bmp[o + 2] = pixels[p];
    }
  }
  return { bmp, pixels };
}

/**
 * Drops CIFAR-10 test image 0 on the page as a visitor would and waits for its `rows` predictions:
 * the [class, percent] rows the page shows, beside Node's top 3 for the same image and checkpoint.
 */
async function classifyDroppedImage(page: Page, checkpoint: CheckpointState, rows: number) {
  const image = testImageAsBmp(0);
  await page.setInputFiles('#pick-image', { name: 'test-image.bmp', mimeType: 'image/bmp', buffer: image.bmp });
  await page.locator(`#predictions li:nth-child(${rows})`).waitFor();
  const shown = (await page.locator('#predictions li').allTextContents()).map((line) => line.split(' '));
  return { shown, inNode: classify(checkpoint, image.pixels, 3) };
}

describeWithData('the playground in Chromium on real CIFAR-10', () => {
  it(`trains ${STEPS} steps on 2 Web Workers to the CLI's parameters, loads the CLI's checkpoint, classifies an image with it and continues it as --resume does`, async () => {
    mkdirSync(outputDir, { recursive: true });
    const work = mkdtempSync(join(tmpdir(), 'convoy-playground-'));
    const cli = trainWithCli(dataDir as string, run, join(work, 'cli'));
    expect(cli.stderr).toBe('');
    expect(cli.status).toBe(0);
    const { file: cliCheckpoint, state: expected } = latestCheckpoint(join(work, 'cli'));
    expect(expected.step).toBe(STEPS);

    await withPlaygroundPage(dataDir as string, async (page, url, pageErrors) => {
      await page.goto(url);
      expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
      await openWithServerData(page, url);
      expect(await page.locator('#data-status').textContent()).toBe("50000 training and 10000 test images from the server's CIFAR10_DIR");
      const trained = await trainInPage(page, run);
      expect(trained.status).toBe(`done: ${STEPS} steps (stopped after ${STEPS})`);
      expect(trained.log).toMatch(/1280 training images \(airplane, .*truck\), 20 steps\/epoch of 64, 2 Web Workers, network recipe, \d+ parameters, kernels: WebAssembly SIMD/);
      const imagesPerSecond = trained.imagesPerSecond;
      expect(imagesPerSecond).toBeGreaterThan(0);

      // The page's checkpoint, downloaded as a visitor would, against the CLI's.
      const { suggestedName, state: actual } = await downloadCheckpoint(page, join(outputDir, 'page-checkpoint.msgpack'));
      expect(suggestedName).toBe('latest.msgpack');
      expect(actual.step).toBe(STEPS);
      expect(actual.modelSpec).toEqual(expected.modelSpec);
      expect(actual.parameters).toEqual(expected.parameters);
      expect(actual.config).toEqual(expected.config);
      expect(relativeError(actual.params, expected.params)).toBeLessThan(1e-5);
      for (const name of Object.keys(expected.optimizer.state)) {
        expect(relativeError(actual.optimizer.state[name], expected.optimizer.state[name])).toBeLessThan(1e-5);
      }
      // Training moved the parameters, so the agreement above is not of untouched initial values.
      const initial = initialParameters(expected.modelSpec, new Rng(run.seed)).data;
      expect(relativeError(expected.params, initial)).toBeGreaterThan(1e-2);

      // The CLI's checkpoint loads in the page, and a dropped image is classified as Node classifies it.
      await page.setInputFiles('#load-checkpoint', cliCheckpoint);
      await page.locator('#run-status[data-state="loaded"]').waitFor();
      const { shown, inNode } = await classifyDroppedImage(page, expected, 3);
      expect(shown.map(([name]) => name)).toEqual(inNode.map((p) => p.className));
      shown.forEach(([, percent], i) => expect(Number(percent.replace('%', ''))).toBeCloseTo(100 * inNode[i].probability, 1));
      expect(CIFAR10_CLASS_NAMES).toContain(shown[0][0]);

      // Train continues the loaded checkpoint as `convoy train --resume` does.
      await page.fill('#max-steps', String(STEPS + 5));
      await page.click('#train');
      await page.locator('#run-status[data-state="done"], #run-status[data-state="error"]').waitFor({ timeout: 120_000 });
      expect(await page.locator('#run-status').textContent()).toBe(`done: ${STEPS + 5} steps (stopped after ${STEPS + 5})`);
      const { state: resumedInPage } = await downloadCheckpoint(page, join(outputDir, 'page-resumed.msgpack'));
      const cliResume = resumeWithCli(dataDir as string, join(work, 'cli'), STEPS + 5);
      expect(cliResume.status).toBe(0);
      const resumedByCli = latestCheckpoint(join(work, 'cli')).state;
      expect(resumedInPage.step).toBe(STEPS + 5);
      expect(resumedByCli.step).toBe(STEPS + 5);
      expect(relativeError(resumedInPage.params, resumedByCli.params)).toBeLessThan(1e-5);

      // gpu.js, selectable in the page, computes the wasm kernels' numbers in this browser.
      await page.selectOption('#backend', 'gpujs');
      await page.click('#check-kernels');
      await page.locator('#parity[data-state]').waitFor();
      const parity = (await page.locator('#parity').textContent()) ?? '';
      expect(await page.locator('#parity').getAttribute('data-state')).toBe('agree');
      expect(parity).toMatch(/^gpujs:\S+ vs wasm: forward .*bias gradient .* agree$/);

      const screenshot = join(outputDir, 'playground.png');
      await page.screenshot({ path: screenshot, fullPage: true });
      console.log(`playground e2e: ${STEPS} steps in Chromium on 2 Web Workers at ${imagesPerSecond.toFixed(1)} images/s; ${parity}; screenshot ${screenshot}`);
      expect(pageErrors).toEqual([]);
    });
  });

  it('trains a BatchNorm preset to the CLI\'s parameters and running statistics, refuses a model file that does not fit naming the layer, trains a custom one, and classifies with a grey network\'s checkpoint', async () => {
    const steps = 12;
    const bn: RunSettings = { ...run, model: 'recipe-bn', limitTrain: 640, epochs: 2, maxSteps: steps };
    const work = mkdtempSync(join(tmpdir(), 'convoy-playground-model-'));
    const cli = trainWithCli(dataDir as string, bn, join(work, 'cli'));
    expect(cli.stderr).toBe('');
    expect(cli.status).toBe(0);
    const expected = latestCheckpoint(join(work, 'cli')).state;

    await withPlaygroundPage(dataDir as string, async (page, url, pageErrors) => {
      await openWithServerData(page, url);

      // recipe-bn from the select: BatchNorm's ghost groups on 2 Web Workers, the CLI's numbers.
      const trained = await trainInPage(page, bn);
      expect(trained.status).toBe(`done: ${steps} steps (stopped after ${steps})`);
      expect(trained.log).toMatch(/network recipe-bn, \d+ parameters/);
      expect(await page.locator('#cli-command').textContent()).toContain('--model recipe-bn');
      expect(await page.locator('#model-check').textContent()).toMatch(/^[\d,]+ parameters, [\d,]+ multiply-adds per image\n\ninput \[3, 32, 32\], 10 classes\n/);
      expect(trained.losses).toHaveLength(steps);
      for (const loss of trained.losses) expect(Number.isFinite(loss)).toBe(true);
      const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
      expect(mean(trained.losses.slice(-3))).toBeLessThan(mean(trained.losses.slice(0, 3)) - 0.05);
      const { state: actual } = await downloadCheckpoint(page, join(work, 'page-recipe-bn.msgpack'));
      expect(actual.modelSpec).toEqual(expected.modelSpec);
      expect(actual.config).toEqual(expected.config);
      expect(actual.buffers.entries).toEqual(expected.buffers.entries);
      expect(expected.buffers.data.length).toBeGreaterThan(0);
      expect(relativeError(actual.params, expected.params)).toBeLessThan(1e-5);
      expect(relativeError(actual.buffers.data, expected.buffers.data)).toBeLessThan(1e-5);

      // Model files that do not fit: the error names the layer's path beside the box, and Train starts nothing.
      const logBefore = (await page.locator('#log').textContent()) ?? '';
      const refused = [
        { layers: [{ type: 'conv2d', out: 8, kernel: 3 }, { type: 'residual', layers: [{ type: 'relu' }, { type: 'swish' }] }, { type: 'flatten' }, { type: 'linear', out: 'classes' }], path: 'layers[1].layers[1]', message: /unknown layer type "swish"/ },
        { layers: [{ type: 'maxpool2d', kernel: 4 }, { type: 'maxpool2d', kernel: 4 }, { type: 'maxpool2d', kernel: 4 }, { type: 'flatten' }, { type: 'linear', out: 'classes' }], path: 'layers[2]', message: /shrinks the input \[3, 2, 2\] below 1 pixel/ },
      ];
      for (const bad of refused) {
        await page.fill('#model-json', JSON.stringify({ input: { channels: 3, resolution: 32 }, layers: bad.layers }, null, 2));
        expect(await page.locator('#model-preset').inputValue()).toBe('custom');
        await page.locator('#model-check[data-state="error"]').waitFor();
        expect(await page.locator('#model-check').getAttribute('data-path')).toBe(bad.path);
        const message = (await page.locator('#model-check').textContent()) ?? '';
        expect(message.startsWith(`${bad.path}: `)).toBe(true);
        expect(message).toMatch(bad.message);
        await page.click('#train');
        await page.locator('#run-status[data-state="refused"]').waitFor({ timeout: 5_000 });
        expect(await page.locator('#run-status').textContent()).toContain(bad.path);
        expect(await page.locator('#train').isEnabled()).toBe(true);
      }
      const logAfter = (await page.locator('#log').textContent()) ?? '';
      expect(logAfter.slice(logBefore.length)).not.toMatch(/training images|starting/);

      // A network of the visitor's own (BatchNorm, dropout's keyed masks, GELU, a residual block) trains and classifies.
      const custom = {
        input: { channels: 3, resolution: 32 },
        layers: [
          { type: 'conv2d', out: 8, kernel: 3, padding: 1, bias: false }, { type: 'batchnorm2d' }, { type: 'relu' },
          { type: 'residual', layers: [{ type: 'conv2d', out: 8, kernel: 3, padding: 1 }, { type: 'gelu' }] },
          { type: 'maxpool2d', kernel: 2 }, { type: 'dropout', p: 0.2 },
          { type: 'conv2d', out: 16, kernel: 3, stride: 2, padding: 1 }, { type: 'relu' },
          { type: 'globalavgpool2d' }, { type: 'flatten' }, { type: 'linear', out: 'classes' },
        ],
      };
      const one: RunSettings = { ...bn, classes: 'cat,dog', model: 'custom', maxSteps: 2 };
      const customRun = await trainInPage(page, one, JSON.stringify(custom, null, 2));
      expect(customRun.status).toBe('done: 2 steps (stopped after 2)');
      expect(customRun.log).toMatch(/network custom, \d+ parameters/);
      expect(customRun.losses).toHaveLength(2);
      for (const loss of customRun.losses) expect(Number.isFinite(loss)).toBe(true);
      expect(await page.locator('#cli-command').textContent()).toContain('--model net.json');
      const { state: customCheckpoint } = await downloadCheckpoint(page, join(work, 'page-custom.msgpack'));
      expect(customCheckpoint.step).toBe(2);
      expect(customCheckpoint.classNames).toEqual(['cat', 'dog']);
      expect(customCheckpoint.modelSpec).toMatchObject({ kind: 'layers', classes: 2, layers: expect.arrayContaining([expect.objectContaining({ type: 'batchnorm2d', groupSize: 32 })]) });
      const { shown, inNode } = await classifyDroppedImage(page, customCheckpoint, 2);
      expect(shown.map(([name]) => name)).toEqual(inNode.map((p) => p.className));

      // A grey network's checkpoint (as a grey image folder trains one): the page shows its network,
      // classifies a dropped image in grey as Node does, and refuses to continue it on CIFAR-10.
      const grey = greyCheckpoint(Object.keys(expected.optimizer.state));
      const greyFile = join(work, 'grey.msgpack');
      writeFileSync(greyFile, encodeCheckpoint(grey));
      await page.setInputFiles('#load-checkpoint', greyFile);
      await page.locator('#run-status[data-state="loaded"]').waitFor();
      expect(await page.locator('#model-check').getAttribute('data-path')).toBe('input.channels');
      await page.setInputFiles('#pick-image', { name: 'grey-test.bmp', mimeType: 'image/bmp', buffer: testImageAsBmp(1).bmp });
      await page.locator('#predictions[data-top] li:nth-child(2)').waitFor();
      const colour = testImageAsBmp(1).pixels;
      const greyPixels = Uint8Array.from({ length: 1024 }, (_, p) => lumaOf(colour[p], colour[1024 + p], colour[2048 + p]));
      const greyInNode = classify(grey, greyPixels, 3);
      const greyShown = (await page.locator('#predictions li').allTextContents()).map((line) => line.split(' '));
      expect(greyShown.map(([name]) => name)).toEqual(greyInNode.map((p) => p.className));
      greyShown.forEach(([, percent], i) => expect(Number(percent.replace('%', ''))).toBeCloseTo(100 * greyInNode[i].probability, 1));
      await page.click('#train');
      await page.locator('#run-status[data-state="error"]').waitFor({ timeout: 10_000 });
      expect(await page.locator('#run-status').textContent()).toMatch(/grey\.msgpack is a network for 2 classes of 1 x 32 x 32 images, .*only convoy train --resume can continue it$/);

      console.log(`playground e2e: recipe-bn losses ${trained.losses.map((l) => l.toFixed(3)).join(' ')}; custom network ${customRun.losses.map((l) => l.toFixed(3)).join(' ')}`);
      expect(pageErrors).toEqual([]);
    });
  });

  // The run is paused around the planted failure, so the worker fails while it holds no task and
  // the replacement is in place before the next step: no race with the run's end or a dispatch.
  it('replaces a Web Worker that fails between steps and goes on to the parameters of an unbroken run', async () => {
    const steps = 12;
    const broken: RunSettings = { ...run, limitTrain: 768, maxSteps: steps };
    const work = mkdtempSync(join(tmpdir(), 'convoy-playground-fault-'));
    const cli = trainWithCli(dataDir as string, broken, join(work, 'cli'));
    expect(cli.status).toBe(0);
    const expected = latestCheckpoint(join(work, 'cli')).state;

    await withPlaygroundPage(dataDir as string, async (page, url, pageErrors) => {
      const warnings: string[] = [];
      let replaced: () => void = () => undefined;
      const replacement = new Promise<void>((resolve) => (replaced = resolve));
      page.on('console', (message) => {
        if (message.type() !== 'warning') return;
        warnings.push(message.text());
        if (message.text().includes('a fresh one replaces it')) replaced();
      });
      await openWithServerData(page, url);
      const training = trainInPage(page, broken);
      await page.waitForFunction(() => Number(document.getElementById('run-status')?.dataset.step ?? 0) >= 2, undefined, { timeout: 300_000 });
      await page.click('#pause');
      await page.locator('#run-status[data-state="paused"]').waitFor({ timeout: 300_000 });
      const failedAt = Number(await page.locator('#run-status').getAttribute('data-step'));
      expect(await page.evaluate(() => (window as unknown as { convoyFailWorker: (k: number) => boolean }).convoyFailWorker(1))).toBe(true);
      await replacement;
      await page.click('#pause');
      const trained = await training;
      // The failure came mid-run, the page replaced the worker, and the run finished.
      expect(failedAt).toBeLessThan(steps);
      expect(warnings).toContainEqual(expect.stringMatching(/^Web Worker 2 failed between tasks \(.*failure planted by the page's test hook in Web Worker 2\); a fresh one replaces it$/));
      expect(trained.status).toBe(`done: ${steps} steps (stopped after ${steps})`);
      const { state: actual } = await downloadCheckpoint(page, join(work, 'page-after-failure.msgpack'));
      expect(actual.step).toBe(steps);
      expect(relativeError(actual.params, expected.params)).toBeLessThan(1e-5);
      expect(pageErrors).toEqual([]);
    });
  });
});
