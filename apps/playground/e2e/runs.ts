import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeCheckpoint, LATEST_CHECKPOINT, type CheckpointState } from '@convoy/run';
import type { Page } from 'playwright-core';
import { PAGE_PRESETS } from '../src/modelFile';

/** One run's settings, as the page's form and the CLI's flags both take them. */
export interface RunSettings {
  /** The network: a preset of the page's select (src/modelFile.ts); the CLI gets the same preset or example file. */
  model: string;
  classes: string;
  limitTrain: number;
  epochs: number;
  batchSize: number;
  lr: number;
  width: number;
  seed: number;
  /** Web Workers in the page, piscina threads in the CLI. */
  workers: number;
  maxSteps: number;
}

/**
 * The page runs the WebAssembly kernels, so the CLI is pinned to them too: `auto` takes the native
 * backend where oneDNN is installed, whose rounding differs from wasm's by more than the 1e-5 these
 * comparisons hold the two to.
 */
const SAME_KERNELS = ['--backend', 'wasm'];

/** The repository's root, which the presets' example files (models/...) are relative to. */
const REPO_ROOT = join(__dirname, '..', '..', '..');

/** `--model` and `--width` for a page preset: the width builds only the recipe presets (a file with --width is a usage error). */
function modelFlags(run: RunSettings): string[] {
  const preset = PAGE_PRESETS.find((p) => p.name === run.model);
  if (!preset) throw new RangeError(`${run.model} is not one of the page's presets (${PAGE_PRESETS.map((p) => p.name).join(', ')})`);
  return preset.cli.endsWith('.json') ? ['--model', join(REPO_ROOT, preset.cli)] : ['--model', preset.cli, '--width', String(run.width)];
}

/** The built CLI, run as a user runs it. */
function convoy(args: string[]) {
  return spawnSync(process.execPath, [join(__dirname, '..', '..', 'trainer', 'bin', 'convoy.js'), ...args], { encoding: 'utf8', env: { ...process.env, NX_TASK_TARGET_PROJECT: '' } });
}

/** `convoy train` (the built CLI) on the same run, checkpointing into `checkpointDir`. */
export function trainWithCli(dataDir: string, run: RunSettings, checkpointDir: string) {
  return convoy([
    'train', ...SAME_KERNELS, '--data-dir', dataDir, '--no-download', '--threads', String(run.workers),
    ...modelFlags(run),
    ...(run.classes ? ['--classes', run.classes] : []), '--limit-train', String(run.limitTrain), '--limit-test', '200', '--epochs', String(run.epochs),
    '--batch-size', String(run.batchSize), '--lr', String(run.lr), '--seed', String(run.seed),
    '--max-steps', String(run.maxSteps), '--checkpoint-dir', checkpointDir,
  ]);
}

/** `convoy train --resume` of a checkpoint directory, up to `maxSteps` in total. */
export function resumeWithCli(dataDir: string, checkpointDir: string, maxSteps: number) {
  return convoy(['train', ...SAME_KERNELS, '--data-dir', dataDir, '--no-download', '--threads', '2', '--limit-test', '200', '--resume', checkpointDir, '--max-steps', String(maxSteps)]);
}

/** The latest checkpoint in a CLI run's checkpoint directory: its file and its decoded state. */
export function latestCheckpoint(checkpointDir: string): { file: string; state: CheckpointState } {
  const file = join(checkpointDir, LATEST_CHECKPOINT);
  return { file, state: decodeCheckpoint(readFileSync(file), file) };
}

/** Clicks the page's download button and saves the checkpoint it offers as `file`; returns the suggested name and the decoded state. */
export async function downloadCheckpoint(page: Page, file: string): Promise<{ suggestedName: string; state: CheckpointState }> {
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
  await download.saveAs(file);
  return { suggestedName: download.suggestedFilename(), state: decodeCheckpoint(readFileSync(file), file) };
}

/**
 * Fills the page's form with the run, trains until it stops, and returns what the page reports.
 * `modelJson`, when given, goes into the model file box instead of the preset `run.model`.
 */
export async function trainInPage(page: Page, run: RunSettings, modelJson?: string): Promise<{ status: string; log: string; imagesPerSecond: number; losses: number[] }> {
  await page.selectOption('#model-preset', run.model);
  if (modelJson !== undefined) await page.fill('#model-json', modelJson);
  const fields: Record<string, string> = {
    '#classes': run.classes, '#limit-train': String(run.limitTrain), '#epochs': String(run.epochs), '#batch-size': String(run.batchSize), '#lr': String(run.lr),
    '#width': String(run.width), '#seed': String(run.seed), '#workers': String(run.workers), '#max-steps': String(run.maxSteps), '#eval-every': '10', '#limit-test': '200',
  };
  for (const [selector, value] of Object.entries(fields)) {
    // The width builds the recipe presets only; for any other network the page disables the field.
    if (selector === '#width' && (await page.locator('#width').isDisabled())) continue;
    await page.fill(selector, value);
  }
  await page.click('#train');
  await page.locator('#run-status[data-state="done"], #run-status[data-state="error"]').waitFor({ timeout: 600_000 });
  return {
    status: (await page.locator('#run-status').textContent()) ?? '',
    log: (await page.locator('#log').textContent()) ?? '',
    imagesPerSecond: Number(await page.locator('#speed').getAttribute('data-images-per-second')),
    losses: await page.evaluate(() => (window as unknown as { convoyTrainingLosses: () => number[] }).convoyTrainingLosses()),
  };
}

/** Opens the page and loads the server's CIFAR-10. */
export async function openWithServerData(page: Page, url: string): Promise<void> {
  await page.goto(url);
  await page.locator('#use-server:enabled').click({ timeout: 30_000 });
  await page.locator('#data-status[data-state="ready"]').waitFor({ timeout: 120_000 });
}
