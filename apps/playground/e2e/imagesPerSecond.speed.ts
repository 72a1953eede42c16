import { execSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { launchChromium, previewServer } from './browser';
import { openWithServerData, trainInPage, trainWithCli, type RunSettings } from './runs';

// The training step's images/s in Chromium (the page, N Web Workers) next to the `convoy` CLI (N
// piscina threads) on this machine: the recipe network (width 32; MODEL picks another of the page's
// presets), batch 128, the same run in both, alternated for ROUNDS rounds so a change in machine
// load hits both. Each side's figure leaves the first step out (thread start-up, wasm compilation)
// and sums images over the step wall time.
const dataDir = process.env.CIFAR10_DIR;
const WORKERS = Number(process.env.WORKERS ?? 2);
const ROUNDS = Number(process.env.ROUNDS ?? 2);
/** A preset of the page's select (recipe, recipe-bn, allconv, mlp-head, resnet9-half). */
const MODEL = process.env.MODEL ?? 'recipe';
const run: RunSettings = { model: MODEL, classes: '', limitTrain: 128 * 16, epochs: 1, batchSize: 128, lr: 0.05, width: 32, seed: 1, workers: WORKERS, maxSteps: 16 };

/** The CLI's images/s over steps 2..n, from its metrics log (imagesPerSecond per step = count / step wall time). */
function cliImagesPerSecond(checkpointDir: string): number {
  const steps = readFileSync(join(checkpointDir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line)).filter((r) => r.type === 'step' && r.step > 1);
  const seconds = steps.reduce((sum, r) => sum + run.batchSize / r.imagesPerSecond, 0);
  return (steps.length * run.batchSize) / seconds;
}

const haveData = Boolean(dataDir && existsSync(join(dataDir, 'test_batch.bin')));
if (!haveData) console.warn('imagesPerSecond.speed.ts skipped: set CIFAR10_DIR to a folder with the CIFAR-10 binary files to measure images/s.');

(haveData ? test : test.skip)(`images/s: Chromium vs the CLI, ${WORKERS} workers`, async () => {
  const server = await previewServer(dataDir as string);
  let browser: Awaited<ReturnType<typeof launchChromium>> | null = null;
  const rows: Array<{ round: number; cli: number; chromium: number }> = [];
  const loadBefore = execSync('uptime').toString().trim();
  try {
    browser = await launchChromium();
    const version = browser.context.browser()?.version() ?? 'unknown';
    for (let round = 1; round <= ROUNDS; round++) {
      const dir = join(mkdtempSync(join(tmpdir(), 'convoy-speed-')), 'cli');
      const cli = trainWithCli(dataDir as string, run, dir);
      if (cli.status !== 0) throw new Error(`convoy train failed: ${cli.stderr}`);
      const page = await browser.context.newPage();
      await openWithServerData(page, server.url);
      const trained = await trainInPage(page, run);
      if (!trained.status.startsWith('done')) throw new Error(`the page's run failed: ${trained.status}`);
      await page.close();
      rows.push({ round, cli: cliImagesPerSecond(dir), chromium: trained.imagesPerSecond });
    }
    const lines = [
      `${MODEL}${run.model === 'recipe' || run.model === 'recipe-bn' ? ` width ${run.width}` : ''}, batch ${run.batchSize}, ${run.maxSteps} steps (first left out), ${WORKERS} workers/threads; Chromium ${version}; Node ${process.version}; ${cpus()[0]?.model}`,
      `load before: ${loadBefore}; after: ${execSync('uptime').toString().trim()}`,
      'round | convoy CLI images/s | Chromium images/s | Chromium / CLI',
      ...rows.map((r) => `${r.round} | ${r.cli.toFixed(1)} | ${r.chromium.toFixed(1)} | ${(r.chromium / r.cli).toFixed(2)}`),
    ];
    const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
    lines.push(`mean | ${mean(rows.map((r) => r.cli)).toFixed(1)} | ${mean(rows.map((r) => r.chromium)).toFixed(1)} | ${mean(rows.map((r) => r.chromium / r.cli)).toFixed(2)}`);
    console.log(lines.join('\n'));
  } finally {
    await browser?.close();
    server.close();
  }
});
