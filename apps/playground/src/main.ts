import { isImageChannels } from '@convoy/data';
import { provideKernelWasm } from '@convoy/kernels';
import { formatModelFile, modelInputOf, type ModelSpec } from '@convoy/nn';
import {
  classCountOf, configProblems, decodeCheckpoint, DEFAULT_RUN_CONFIG, describeCollapse, encodeCheckpoint, LATEST_CHECKPOINT, type CheckpointState, type RunConfig,
} from '@convoy/run';
import type { EvaluationResult } from '@convoy/worker/portable';
import relaxedWasmUrl from '@convoy/kernels/kernels-relaxed.wasm?url';
import plainWasmUrl from '@convoy/kernels/kernels.wasm?url';
import { drawChart, type Series } from './chart';
import { classify, decodeImageFile, type Classifier } from './classify';
import { checkAgainstWasm } from './kernelParity';
import { checkModelText, PAGE_INPUT, PAGE_PRESETS, presetText, type ModelCheck } from './modelFile';
import { fetchServerCifar10, readPickedFiles, serverHasCifar10, type BrowserCifar10 } from './dataset';
import { TrainingSession } from './trainingSession';
import { liveWorkers } from './webWorkerRunner';
import type { KernelWasm, ToWorker } from './workerMessages';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const input = (id: string) => $<HTMLInputElement>(id);

let data: BrowserCifar10 | null = null;
let wasm: KernelWasm | null = null;
let session: TrainingSession | null = null;
/** A checkpoint loaded to classify with or continue; `modelText` is its network as the box shows it. */
let loaded: { state: CheckpointState; file: string; modelText: string } | null = null;
let running = false;
/** Steps the chart's x axis spans: the last run's total. */
let chartSteps = 1;
const series: Series[] = [
  { label: 'train loss', color: '#d9534f', axis: 'loss', points: [] },
  { label: 'train accuracy (batch)', color: '#f0ad4e', axis: 'accuracy', points: [] },
  { label: 'test accuracy', color: '#2a7ab0', axis: 'accuracy', points: [] },
];

function log(line: string): void {
  const el = $('log');
  el.textContent += `${new Date().toISOString().slice(11, 19)} ${line}\n`;
  el.scrollTop = el.scrollHeight;
}

function setStatus(id: string, text: string, state?: string): void {
  const el = $(id);
  el.textContent = text;
  el.classList.toggle('error', state === 'error');
  if (state) el.dataset.state = state;
}

function fail(id: string, error: unknown): void {
  const message = error instanceof Error ? error.message : String(error);
  setStatus(id, message, 'error');
  log(`error: ${message}`);
}

/** The select's entry for a network the visitor wrote or changed (or a loaded checkpoint's). */
const CUSTOM = 'custom';
/** The presets whose file the form's width builds (the others are example files of fixed sizes). */
const WIDTH_PRESETS = new Set(['recipe', 'recipe-bn']);

const modelBox = () => $<HTMLTextAreaElement>('model-json');
const modelSelect = () => $<HTMLSelectElement>('model-preset');

function usesWidth(): boolean {
  return WIDTH_PRESETS.has(modelSelect().value);
}

/** Fills the box with a preset's model file (the recipe presets at the form's width) and checks it. */
function fillModel(name: string): void {
  modelSelect().value = name;
  modelBox().value = presetText(name, Number(input('width').value) || DEFAULT_RUN_CONFIG.width);
  checkModel();
}

/**
 * Checks the box's model file for the form's classes and shows the result beside it: the totals and
 * layer table, or the ModelFileError's message, which starts with the layer's path.
 */
function checkModel(): ModelCheck {
  const classes = input('classes').value.trim();
  const check = checkModelText(modelBox().value, classCountOf({ classes: classes === '' ? null : classes }));
  const el = $('model-check');
  if (check.ok) {
    el.textContent = `${check.parameters.toLocaleString('en-US')} parameters, ${check.multiplyAdds.toLocaleString('en-US')} multiply-adds per image\n\n${check.summary}`;
    delete el.dataset.path;
  } else {
    el.textContent = check.message;
    el.dataset.path = check.path ?? '';
  }
  el.dataset.state = check.ok ? 'ok' : 'error';
  el.classList.toggle('error', !check.ok);
  input('width').disabled = !usesWidth();
  updateCliCommand();
  return check;
}

function optionalInteger(id: string): number | null {
  const value = input(id).value.trim();
  return value === '' ? null : Number(value);
}

/** The run the form describes: the CLI's defaults with the fields the page shows. */
function formConfig(): RunConfig {
  const classes = input('classes').value.trim();
  return {
    ...DEFAULT_RUN_CONFIG,
    classes: classes === '' ? null : classes,
    limitTrain: optionalInteger('limit-train'),
    epochs: Number(input('epochs').value),
    batchSize: Number(input('batch-size').value),
    lr: Number(input('lr').value),
    // The width builds the recipe presets only; with a model file the CLI keeps its default too.
    width: usesWidth() ? Number(input('width').value) : DEFAULT_RUN_CONFIG.width,
    seed: Number(input('seed').value),
  };
}

function showConfig(config: RunConfig): void {
  input('classes').value = config.classes ?? '';
  input('limit-train').value = config.limitTrain === null ? '' : String(config.limitTrain);
  input('epochs').value = String(config.epochs);
  input('batch-size').value = String(config.batchSize);
  input('lr').value = String(config.lr);
  input('width').value = String(config.width);
  input('seed').value = String(config.seed);
  updateCliCommand();
}

/** The `convoy train` command line of the same run (the page trains exactly what it would). */
function updateCliCommand(): void {
  const c = formConfig();
  const maxSteps = optionalInteger('max-steps');
  const preset = PAGE_PRESETS.find((p) => p.name === modelSelect().value);
  const flags = [
    `--model ${preset ? preset.cli : 'net.json'}`,
    c.classes ? `--classes ${c.classes}` : '',
    c.limitTrain !== null ? `--limit-train ${c.limitTrain}` : '',
    `--epochs ${c.epochs}`,
    `--batch-size ${c.batchSize}`,
    `--lr ${c.lr}`,
    usesWidth() ? `--width ${c.width}` : '',
    `--seed ${c.seed}`,
    `--threads ${input('workers').value}`,
    maxSteps !== null ? `--max-steps ${maxSteps}` : '',
  ].filter(Boolean);
  $('cli-command').textContent = `CIFAR10_DIR=… npx convoy train ${flags.join(' ')}${preset ? '' : " (net.json: the box's model file)"}`;
}

function checkNumbers(config: RunConfig): void {
  const integers: Array<[string, number, number]> = [
    ['epochs', config.epochs, 1],
    ['batch', config.batchSize, 1],
    ['width', config.width, 1],
    ['seed', config.seed, 0],
    ['workers', Number(input('workers').value), 1],
  ];
  for (const [name, value, min] of integers) {
    if (!Number.isInteger(value) || value < min) throw new RangeError(`${name} must be a whole number of at least ${min}, got ${value}`);
  }
  if (config.limitTrain !== null && (!Number.isInteger(config.limitTrain) || config.limitTrain < 1)) throw new RangeError('training images must be a whole number of at least 1, or empty for all');
  if (!(config.lr > 0)) throw new RangeError(`the peak lr must be above 0, got ${config.lr}`);
  const problems = configProblems(config);
  if (problems.length > 0) throw new RangeError(problems.join('; '));
}

function redraw(): void {
  drawChart($<HTMLCanvasElement>('chart'), series, chartSteps);
}

async function loadWasm(): Promise<KernelWasm> {
  const get = async (url: string) => {
    const response = await fetch(url);
    if (!response.ok) throw new Error(`the kernels' WebAssembly (${url}) could not be fetched: ${response.status}`);
    return new Uint8Array(await response.arrayBuffer());
  };
  const [relaxed, plain] = await Promise.all([get(relaxedWasmUrl), get(plainWasmUrl)]);
  provideKernelWasm('relaxed', relaxed);
  provideKernelWasm('plain', plain);
  return { relaxed, plain };
}

function dataLoaded(set: BrowserCifar10): void {
  data = set;
  setStatus('data-status', `${set.train.count} training and ${set.test?.count ?? 0} test images from ${set.source}`, 'ready');
  log(`data: ${$('data-status').textContent}`);
  $<HTMLButtonElement>('train').disabled = false;
}

async function train(): Promise<void> {
  if (!data || !wasm) return;
  // Train continues a loaded checkpoint (as --resume) unless the box now holds another network.
  const resume = loaded && !session && modelBox().value === loaded.modelText ? loaded.state : null;
  if (loaded && !session && !resume) log(`the network differs from ${loaded.file}'s: a new run, not its continuation`);
  let config: RunConfig;
  let modelSpec: ModelSpec;
  try {
    config = resume ? (resume.config as unknown as RunConfig) : formConfig();
    checkNumbers(config);
    if (resume) {
      const { channels, resolution } = modelInputOf(resume.modelSpec);
      if (channels !== PAGE_INPUT.channels || resolution !== PAGE_INPUT.resolution || resume.classNames.length !== classCountOf(config)) {
        throw new Error(`${loaded?.file} is a network for ${resume.classNames.length} classes of ${channels} x ${resolution} x ${resolution} images, not for this page's CIFAR-10 (${PAGE_INPUT.channels} x ${PAGE_INPUT.resolution} x ${PAGE_INPUT.resolution}): it classifies images, but only convoy train --resume can continue it`);
      }
    }
    const check = checkModel();
    if (!resume && !check.ok) {
      setStatus('run-status', `not started: the model file does not check out (${check.path ?? 'not JSON'}; the message is beside it)`, 'refused');
      log(`model file: ${check.message}`);
      return;
    }
    modelSpec = resume ? resume.modelSpec : (check as Extract<ModelCheck, { ok: true }>).spec;
  } catch (error) {
    fail('run-status', error);
    return;
  }
  await session?.close();
  session = null;
  for (const s of series) s.points = [];
  running = true;
  $<HTMLButtonElement>('train').disabled = true;
  setStatus('run-status', 'starting the Web Workers…', 'starting');
  const maxSteps = optionalInteger('max-steps');
  const evalEvery = Number(input('eval-every').value) || 25;
  let evaluatedAt = -1;
  let lastEvaluation: EvaluationResult | null = null;
  /** The losses of the last epoch's steps, for the collapse check at the end. */
  const epochLosses: number[] = [];
  try {
    session = await TrainingSession.create({
      data,
      config,
      modelSpec,
      workers: Number(input('workers').value),
      backend: $<HTMLSelectElement>('backend').value,
      wasm,
      limitTest: Number(input('limit-test').value) || 500,
      ...(resume ? { resume } : {}),
    });
    const s = session;
    chartSteps = s.totalSteps;
    const described = await s.describe();
    log(`${s.train.count} training images (${s.classNames.join(', ')}), ${s.stepsPerEpoch} steps/epoch of ${config.batchSize}, ${described.length} Web Workers, ` +
      `network ${resume ? loaded?.file : modelSelect().value}, ${s.pool.paramCount} parameters, kernels: ${described[0]?.reason}${resume ? `; resuming ${loaded?.file} at step ${s.step}` : ''}`);
    $<HTMLButtonElement>('pause').disabled = false;
    $<HTMLButtonElement>('download').disabled = false;
    let images = 0;
    let seconds = 0;
    const firstStep = s.step + 1;
    const evaluate = async () => {
      const result = s.evaluate();
      if (!result || evaluatedAt === s.step) return;
      const r = await result;
      lastEvaluation = r;
      evaluatedAt = s.step;
      series[2].points.push([s.step, r.accuracy]);
      log(`step ${s.step}: test loss ${r.loss.toFixed(4)}, accuracy ${(100 * r.accuracy).toFixed(1)}% on ${r.count} images`);
    };
    while (!s.finished && (maxSteps === null || s.step < maxSteps)) {
      if (s.isPaused) setStatus('run-status', `paused at step ${s.step}`, 'paused');
      await s.whenRunning();
      const report = await s.trainStep();
      // The first step also starts the workers (model build, wasm compile): the average leaves it out.
      if (report.step > firstStep) {
        images += report.result.count;
        seconds += report.result.timings.total;
      }
      series[0].points.push([report.step, report.loss]);
      epochLosses.push(report.loss);
      if (epochLosses.length > s.stepsPerEpoch) epochLosses.shift();
      const previous = series[1].points.at(-1)?.[1] ?? report.accuracy;
      series[1].points.push([report.step, 0.9 * previous + 0.1 * report.accuracy]);
      if (report.step % evalEvery === 0) await evaluate();
      setStatus('run-status', `step ${report.step}/${s.totalSteps} (epoch ${report.epoch + 1}), loss ${report.loss.toFixed(4)}`, 'training');
      $('run-status').dataset.step = String(report.step);
      const average = seconds > 0 ? `, ${(images / seconds).toFixed(1)} images/s on average after the first step` : '';
      $('speed').textContent = `${report.imagesPerSecond.toFixed(1)} images/s this step on ${described.length} Web Workers${average}`;
      if (seconds > 0) $('speed').dataset.imagesPerSecond = (images / seconds).toFixed(2);
      redraw();
    }
    await evaluate();
    redraw();
    const collapse = s.finished && epochLosses.length > 0 ? s.collapseAtEnd(epochLosses.reduce((a, b) => a + b, 0) / epochLosses.length, lastEvaluation) : null;
    if (collapse) log(`WARNING: this run ended at chance: ${describeCollapse(collapse)}. Try a lower lr, a longer warm-up or another seed.`);
    setStatus('run-status', `done: ${s.step} steps${maxSteps !== null && !s.finished ? ` (stopped after ${maxSteps})` : ''}`, 'done');
    $('run-status').dataset.step = String(s.step);
    log($('run-status').textContent ?? '');
  } catch (error) {
    fail('run-status', error);
  } finally {
    running = false;
    loaded = null;
    $<HTMLButtonElement>('train').disabled = false;
    $<HTMLButtonElement>('pause').disabled = true;
  }
}

function togglePause(): void {
  if (!session || !running) return;
  if (session.isPaused) {
    session.resume();
    $('pause').textContent = 'Pause';
  } else {
    session.pause();
    $('pause').textContent = 'Resume';
  }
}

function download(): void {
  if (!session) return;
  const test = series[2].points.at(-1);
  const bytes = encodeCheckpoint(session.checkpointState({ source: 'convoy playground', ...(test ? { testAccuracy: test[1] } : {}) }));
  const url = URL.createObjectURL(new Blob([bytes as BlobPart], { type: 'application/octet-stream' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = LATEST_CHECKPOINT;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
  log(`checkpoint of step ${session.step} downloaded (${bytes.byteLength} bytes)`);
}

async function loadCheckpoint(file: File): Promise<void> {
  try {
    const state = decodeCheckpoint(new Uint8Array(await file.arrayBuffer()), file.name);
    if (running) throw new Error('pause and finish the current run before loading a checkpoint');
    await session?.close();
    session = null;
    const config = state.config as unknown as RunConfig;
    if (typeof config.batchSize === 'number') showConfig(config);
    // Its network in the box: a layer list as its file, the recipe (checkpoints of the CLI's default) as the same preset.
    const spec = state.modelSpec;
    if (spec.kind === 'layers') {
      const { kind: _kind, classes: _classes, ...file } = spec;
      modelSelect().value = CUSTOM;
      modelBox().value = formatModelFile(file);
    } else {
      input('width').value = String(spec.width);
      modelSelect().value = 'recipe';
      modelBox().value = presetText('recipe', spec.width);
    }
    checkModel();
    loaded = { state, file: file.name, modelText: modelBox().value };
    setStatus('run-status', `loaded ${file.name}: step ${state.step}, classes ${state.classNames.join(', ')}; Train continues it, images are classified with it`, 'loaded');
    log($('run-status').textContent ?? '');
  } catch (error) {
    fail('run-status', error);
  }
}

function currentClassifier(): Classifier | null {
  if (session) {
    const c = session.checkpointState({});
    return { modelSpec: c.modelSpec, classNames: c.classNames, normalization: c.normalization, params: c.params.slice(), buffers: { data: c.buffers.data.slice() } };
  }
  if (loaded) {
    const { state } = loaded;
    return { modelSpec: state.modelSpec, classNames: state.classNames, normalization: state.normalization, params: state.params, buffers: state.buffers };
  }
  return null;
}

async function classifyFile(file: File): Promise<void> {
  const list = $('predictions');
  list.replaceChildren();
  try {
    const classifier = currentClassifier();
    if (!classifier) throw new Error('no model yet: train one or load a checkpoint first');
    const { channels, resolution: r } = modelInputOf(classifier.modelSpec);
    if (!isImageChannels(channels)) throw new Error(`this network takes ${channels}-channel images; images decode to 1 (grey) or 3 (RGB) channels`);
    const pixels = await decodeImageFile(file, r, channels);
    const preview = $<HTMLCanvasElement>('preview');
    preview.width = r;
    preview.height = r;
    const rgba = new ImageData(r, r);
    for (let p = 0; p < r * r; p++) {
      const [red, green, blue] = channels === 1 ? [pixels[p], pixels[p], pixels[p]] : [pixels[p], pixels[r * r + p], pixels[2 * r * r + p]];
      rgba.data.set([red, green, blue, 255], 4 * p);
    }
    (preview.getContext('2d') as CanvasRenderingContext2D).putImageData(rgba, 0, 0);
    const top = classify(classifier, pixels, 3);
    for (const p of top) {
      const item = document.createElement('li');
      item.textContent = `${p.className} ${(100 * p.probability).toFixed(1)}%`;
      list.append(item);
    }
    list.dataset.top = top[0].className;
    log(`${file.name}: ${top.map((p) => `${p.className} ${(100 * p.probability).toFixed(1)}%`).join(', ')}`);
  } catch (error) {
    const item = document.createElement('li');
    item.className = 'error';
    item.textContent = error instanceof Error ? error.message : String(error);
    list.append(item);
  }
}

/** The selected kernels against the wasm ones on one conv layer, in this page (see kernelParity.ts). */
function checkKernels(): void {
  const el = $('parity');
  try {
    const { backend, rows } = checkAgainstWasm($<HTMLSelectElement>('backend').value);
    const ok = rows.every((r) => r.ok);
    el.textContent = `${backend} vs wasm: ${rows.map((r) => `${r.op} ${r.relativeError.toExponential(1)}`).join(', ')} — ${ok ? 'agree' : 'DIFFER'}`;
    el.dataset.state = ok ? 'agree' : 'differ';
    el.classList.toggle('error', !ok);
  } catch (error) {
    el.textContent = error instanceof Error ? error.message : String(error);
    el.dataset.state = 'error';
    el.classList.add('error');
  }
  log(el.textContent ?? '');
}

async function start(): Promise<void> {
  input('workers').value = String(navigator.hardwareConcurrency || 2);
  for (const preset of [...PAGE_PRESETS, { name: CUSTOM, label: "custom (the box's JSON)" }]) {
    modelSelect().append(new Option(preset.label, preset.name));
  }
  fillModel('recipe');
  for (const el of document.querySelectorAll('#settings-panel input')) el.addEventListener('input', updateCliCommand);
  modelSelect().addEventListener('change', () => (modelSelect().value === CUSTOM ? checkModel() : fillModel(modelSelect().value)));
  modelBox().addEventListener('input', () => {
    modelSelect().value = CUSTOM;
    checkModel();
  });
  input('width').addEventListener('input', () => usesWidth() && fillModel(modelSelect().value));
  input('classes').addEventListener('input', () => checkModel());
  redraw();
  if (!crossOriginIsolated) {
    const note = $('isolation');
    note.hidden = false;
    note.textContent =
      'This page is not cross-origin isolated, so SharedArrayBuffer is unavailable and the workers cannot share memory. ' +
      'Serve it with the headers Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp (npx nx run playground:serve does).';
    return;
  }
  try {
    wasm = await loadWasm();
  } catch (error) {
    fail('run-status', error);
    return;
  }
  $('train').addEventListener('click', () => void train());
  $('check-kernels').addEventListener('click', checkKernels);
  $('pause').addEventListener('click', togglePause);
  $('download').addEventListener('click', download);
  input('load-checkpoint').addEventListener('change', () => {
    const file = input('load-checkpoint').files?.[0];
    if (file) void loadCheckpoint(file);
  });
  input('pick-data').addEventListener('change', () => {
    const files = input('pick-data').files;
    if (files && files.length > 0) {
      setStatus('data-status', `reading ${files.length} file(s)…`, 'loading');
      readPickedFiles(files).then(dataLoaded, (error) => fail('data-status', error));
    }
  });
  $('use-server').addEventListener('click', () => {
    setStatus('data-status', 'fetching CIFAR-10 from the server…', 'loading');
    fetchServerCifar10((name, done, total) => setStatus('data-status', `fetched ${name} (${done}/${total})`, 'loading')).then(dataLoaded, (error) => fail('data-status', error));
  });
  input('pick-image').addEventListener('change', () => {
    const file = input('pick-image').files?.[0];
    if (file) void classifyFile(file);
  });
  const dropZones: Array<[HTMLElement, (files: FileList) => void]> = [
    [$('drop-image'), (files) => void classifyFile(files[0])],
    [$('data-panel'), (files) => readPickedFiles(files).then(dataLoaded, (error) => fail('data-status', error))],
  ];
  for (const [zone, onDrop] of dropZones) {
    zone.addEventListener('dragover', (event) => {
      event.preventDefault();
      zone.classList.add('over');
    });
    zone.addEventListener('dragleave', () => zone.classList.remove('over'));
    zone.addEventListener('drop', (event) => {
      event.preventDefault();
      zone.classList.remove('over');
      if (event.dataTransfer?.files.length) onDrop(event.dataTransfer.files);
    });
  }
  const available = await serverHasCifar10();
  $<HTMLButtonElement>('use-server').disabled = !available;
  $('server-note').textContent = available ? '(served from CIFAR10_DIR)' : '(the server has none: start it with CIFAR10_DIR set, or pick the files)';
  window.addEventListener('resize', redraw);
  // The e2e test's hook: make Web Worker k of the live run fail between tasks (webWorkerRunner.ts).
  (window as unknown as { convoyFailWorker: (k: number) => boolean }).convoyFailWorker = (k) => {
    const worker = liveWorkers[k];
    worker?.postMessage({ type: 'fail', message: `failure planted by the page's test hook in Web Worker ${k + 1}` } satisfies ToWorker);
    return Boolean(worker);
  };
  // The e2e test's read-only view of the chart: the last run's training loss per step.
  (window as unknown as { convoyTrainingLosses: () => number[] }).convoyTrainingLosses = () => series[0].points.map(([, loss]) => loss);
}

void start();
