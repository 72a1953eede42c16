/**
 * convoy against PyTorch: a network's training step, both frameworks interleaved in one run
 * (PyTorch from tools/pytorch/step_benchmark.py in a child process, convoy in this one), per case
 * convoy images/s / PyTorch images/s. Networks: `recipe` (the recipe network at each case's R) and
 * `resnet` (models/resnet9-half.json: conv-BatchNorm-ReLU layers and residual blocks, R=32 cases
 * only), `resnet224` (models/resnet224.json: the same kinds of layers for R=224 cases) and, when
 * asked for, `airbench94` (models/airbench94.json: whitening conv, GELU, weightless BatchNorm); PyTorch
 * builds the same file with tools/pytorch/model_file.py, ghost groups included. PyTorch runs in both memory formats (NCHW and
 * channels-last) every round; both are printed and the faster one is the yardstick.
 *
 *   npx nx run benchmarks:pytorch                         # table
 *   node benchmarks/dist/pytorch.js --json                # + one JSON line on stdout with pytorchRatio
 *   node benchmarks/dist/pytorch.js --cases 32x128 --threads 1 --rounds 1
 *   node benchmarks/dist/pytorch.js --backend native      # convoy's kernels: auto (default), native, wasm, ...
 *   node benchmarks/dist/pytorch.js --networks resnet --cases 32x32 --threads 1
 *   node benchmarks/dist/pytorch.js --networks airbench94 --cases 32x512 --threads 2 --backend native
 *
 * One thread: convoy's step in this thread (as benchmarks:kernels) against torch.set_num_threads(1).
 * More threads: the trainer's worker pool (data-parallel, one shard per thread) against PyTorch's
 * intra-op threads. PyTorch is skipped, with the reason, when `python -c 'import torch'` fails.
 * One-thread cases are also compared by process CPU time, which a busy shared machine distorts less.
 */
import { spawnSync } from 'child_process';
import { readFileSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { KernelBackend } from '@convoy/kernels';
import type { LayerListSpec } from '@convoy/nn';
import { selectWorkerBackend } from '@convoy/worker';
import { positiveInteger, positiveNumber, readFlags } from './args';
import { measurePoolStep } from './poolStep';
import { measureTrainingStep, type StepNetwork } from './trainingStep';

interface Case {
  network: NetworkName;
  resolution: number;
  batch: number;
  threads: number;
}

interface Options {
  json: boolean;
  cases: Array<{ resolution: number; batch: number }>;
  networks: NetworkName[];
  threads: number[];
  width: number;
  rounds: number;
  budgetSeconds: number;
  python: string;
  /** convoy's kernel backend, as `convoy train --backend` takes it. */
  backend: string;
  /** Timed steps at least, per side and case (after the warm-up); fewer for big batches on a busy machine. */
  minSteps: number;
}

/** The networks a run can time: the recipe at any R, or a model file at its own R. */
const NETWORK_FILES = { recipe: null, resnet: 'resnet9-half.json', resnet224: 'resnet224.json', airbench94: 'airbench94.json' } as const;
type NetworkName = keyof typeof NETWORK_FILES;
const MODELS_DIR = path.resolve(__dirname, '..', '..', 'models');

/** The model file path of a network (null: the recipe, built from --width). */
function networkFile(name: NetworkName): string | null {
  const file = NETWORK_FILES[name];
  return file === null ? null : path.join(MODELS_DIR, file);
}

const MEMORY_FORMATS = ['nchw', 'channels_last'] as const;
type MemoryFormat = (typeof MEMORY_FORMATS)[number];

const USAGE =
  'usage: pytorch [--json] [--backend auto|native|wasm|...] [--networks recipe,resnet,resnet224,airbench94] [--cases 32x128,224x32] [--threads 1,2] [--width 32] [--rounds 3] [--budget 2] [--min-steps 5] [--python /usr/bin/python3]';
const STEP_SCRIPT = path.resolve(__dirname, '..', '..', 'tools', 'pytorch', 'step_benchmark.py');

function parseArgs(rawArgv: string[]): Options {
  const options: Options = {
    json: false, cases: [{ resolution: 32, batch: 128 }, { resolution: 224, batch: 32 }], networks: ['recipe', 'resnet', 'resnet224'], threads: [1, 2], width: 32, rounds: 3,
    budgetSeconds: 2, python: '/usr/bin/python3', backend: 'auto', minSteps: 5,
  };
  readFlags(rawArgv, USAGE, (flag, args) => {
    if (flag === '--json') options.json = args.optionalBoolean();
    else if (flag === '--cases') {
      options.cases = args.value().split(',').filter(Boolean).map((c) => {
        const m = /^(\d+)x(\d+)$/.exec(c);
        if (!m) throw new Error(`--cases wants RESOLUTIONxBATCH items such as 32x128, got ${c}; ${USAGE}`);
        return { resolution: positiveInteger('--cases resolution', m[1]), batch: positiveInteger('--cases batch', m[2]) };
      });
    } else if (flag === '--networks') {
      options.networks = args.value().split(',').filter(Boolean).map((n) => {
        if (!(n in NETWORK_FILES)) throw new Error(`--networks takes ${Object.keys(NETWORK_FILES).join(', ')}, got ${n}; ${USAGE}`);
        return n as NetworkName;
      });
    } else if (flag === '--threads') options.threads = args.value().split(',').filter(Boolean).map((t) => positiveInteger(flag, t));
    else if (flag === '--width') options.width = positiveInteger(flag, args.value());
    else if (flag === '--rounds') options.rounds = positiveInteger(flag, args.value());
    else if (flag === '--budget') options.budgetSeconds = positiveNumber(flag, args.value());
    else if (flag === '--min-steps') options.minSteps = positiveInteger(flag, args.value());
    else if (flag === '--python') options.python = args.value();
    else if (flag === '--backend') options.backend = args.value();
    else return false;
    return true;
  });
  return options;
}

/** Why PyTorch cannot be the yardstick here, or null when `python -c 'import torch'` works. */
function pytorchUnavailable(python: string): string | null {
  const probe = spawnSync(python, ['-c', 'import torch'], { encoding: 'utf8' });
  if (probe.error) return `${python} did not run (${probe.error.message})`;
  if (probe.status !== 0) return `${python} -c 'import torch' failed: ${(probe.stderr || '').trim().split('\n').pop()}`;
  return null;
}

interface PytorchStep {
  imagesPerSecond: number;
  imagesPerCpuSecond: number;
  torch: string;
  cpuCapability: string | null;
}

function measurePytorchStep(options: Options, c: Case, format: MemoryFormat): PytorchStep {
  const args = [
    STEP_SCRIPT, '--resolution', String(c.resolution), '--width', String(options.width), '--batch', String(c.batch),
    '--threads', String(c.threads), '--seconds', String(options.budgetSeconds), '--memory-format', format, '--min-steps', String(options.minSteps),
  ];
  const file = networkFile(c.network);
  if (file !== null) args.push('--model', file);
  const run = spawnSync(options.python, args, { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`${options.python} ${args.join(' ')} failed (status ${run.status}): ${run.stderr}`);
  return JSON.parse(run.stdout.trim().split('\n').pop() as string) as PytorchStep;
}

/** images/s by wall time, and (one thread only: this process's CPU time) by CPU time. */
async function measureConvoyStep(options: Options, backend: KernelBackend, c: Case, model: LayerListSpec | undefined): Promise<{ wall: number; cpu: number | null }> {
  const network: StepNetwork = { resolution: c.resolution, width: options.width, model };
  if (c.threads === 1) {
    const step = measureTrainingStep(backend, c.batch, options.budgetSeconds, network);
    return { wall: step.imagesPerSecond, cpu: step.imagesPerCpuSecond };
  }
  return { wall: (await measurePoolStep(c.threads, c.batch, options.budgetSeconds, network, options.backend, options.minSteps)).imagesPerSecond, cpu: null };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** `r32-b128-t1` for the recipe (the keys of earlier runs), `resnet-r32-b128-t1` for the others. */
function caseKey(c: Case): string {
  return `${c.network === 'recipe' ? '' : `${c.network}-`}r${c.resolution}-b${c.batch}-t${c.threads}`;
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const log = (line: string) => (options.json ? process.stderr : process.stdout).write(line + '\n');
  const machine = `${os.cpus().length} x ${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.arch()}, Node ${process.version}`;
  log(`machine: ${machine}, load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  // The backend a worker thread takes for this name (the same choice in this thread and in the pool's).
  const { backend, reason } = selectWorkerBackend(options.backend);
  log(`convoy backend: ${backend.name} (${reason}); width ${options.width}; ${options.rounds} interleaved rounds, median per side`);
  const skipped = pytorchUnavailable(options.python);
  if (skipped) log(`PyTorch: skipped (${skipped})`);

  const models = new Map<NetworkName, LayerListSpec>();
  for (const name of options.networks) {
    const file = networkFile(name);
    if (file !== null) models.set(name, JSON.parse(readFileSync(file, 'utf8')) as LayerListSpec);
  }
  // A model file's network runs at its own input side only.
  const fits = (name: NetworkName, resolution: number) => !models.has(name) || models.get(name)!.input.resolution === resolution;
  const cases: Case[] = options.networks.flatMap((network) => options.cases.filter((c) => fits(network, c.resolution))
    .flatMap((c) => options.threads.map((threads) => ({ network, ...c, threads }))));
  for (const name of options.networks) {
    if (!cases.some((c) => c.network === name)) log(`${name}: no case at its input side (R=${models.get(name)?.input.resolution}); add one to --cases`);
  }
  type Samples = { convoy: number[]; pytorch: Record<MemoryFormat, number[]>; convoyCpu: number[]; pytorchCpu: Record<MemoryFormat, number[]>; convoySkipped?: string };
  const samples = new Map<string, Samples>();
  let torchInfo: PytorchStep | null = null;
  for (let round = 1; round <= options.rounds; round++) {
    for (const c of cases) {
      const key = caseKey(c);
      const s: Samples = samples.get(key) ?? { convoy: [], pytorch: { nchw: [], channels_last: [] }, convoyCpu: [], pytorchCpu: { nchw: [], channels_last: [] } };
      samples.set(key, s);
      if (!skipped) {
        for (const format of MEMORY_FORMATS) {
          torchInfo = measurePytorchStep(options, c, format);
          s.pytorch[format].push(torchInfo.imagesPerSecond);
          if (c.threads === 1) s.pytorchCpu[format].push(torchInfo.imagesPerCpuSecond);
        }
      }
      if (!s.convoySkipped) {
        try {
          const convoy = await measureConvoyStep(options, backend, c, models.get(c.network));
          s.convoy.push(convoy.wall);
          if (convoy.cpu !== null) s.convoyCpu.push(convoy.cpu);
        } catch (error) {
          s.convoySkipped = (error as Error).message;
        }
      }
      const last = (xs: number[]) => (xs.length ? xs[xs.length - 1].toFixed(1) : 'n/a');
      const torchLast = skipped ? 'skipped' : `${last(s.pytorch.nchw)} (NCHW) / ${last(s.pytorch.channels_last)} (channels-last)`;
      log(`round ${round}/${options.rounds} ${c.network} R=${c.resolution} batch ${c.batch} ${c.threads} thread(s): convoy ${s.convoySkipped ? 'skipped' : last(s.convoy)}, PyTorch ${torchLast} images/s`);
    }
  }
  if (torchInfo) log(`PyTorch ${torchInfo.torch} (its own kernels dispatch to ${torchInfo.cpuCapability}; oneDNN convolutions pick their own ISA); * marks the faster memory format, the one each ratio is against`);

  log('');
  log('| network | R | batch | threads | convoy images/s | PyTorch NCHW images/s | PyTorch channels-last images/s | convoy / PyTorch (faster format) | by CPU time (1 thread): convoy / PyTorch images per CPU-s, ratio |');
  log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  const medianOrNull = (xs: number[]) => (xs.length ? median(xs) : null);
  const results = cases.map((c) => {
    const s = samples.get(caseKey(c))!;
    const convoy = medianOrNull(s.convoy);
    const pytorchNchw = medianOrNull(s.pytorch.nchw);
    const pytorchChannelsLast = medianOrNull(s.pytorch.channels_last);
    // PyTorch at its best: the faster of its two memory formats in this run.
    const fasterFormat: MemoryFormat = (pytorchChannelsLast ?? 0) > (pytorchNchw ?? 0) ? 'channels_last' : 'nchw';
    const pytorch = fasterFormat === 'nchw' ? pytorchNchw : pytorchChannelsLast;
    const ratio = convoy !== null && pytorch !== null ? convoy / pytorch : null;
    const convoyCpu = medianOrNull(s.convoyCpu);
    const pytorchCpu = medianOrNull(s.pytorchCpu[fasterFormat]);
    const cpuRatio = convoyCpu !== null && pytorchCpu !== null ? convoyCpu / pytorchCpu : null;
    const cpuCell = cpuRatio !== null ? `${convoyCpu!.toFixed(1)} / ${pytorchCpu!.toFixed(1)}, ${cpuRatio.toFixed(2)}` : 'n/a';
    const mark = (format: MemoryFormat, value: number | null) => (value === null ? 'skipped' : `${value.toFixed(1)}${format === fasterFormat ? ' *' : ''}`);
    log(`| ${c.network} | ${c.resolution} | ${c.batch} | ${c.threads} | ${convoy?.toFixed(1) ?? `skipped (${s.convoySkipped})`} | ${mark('nchw', pytorchNchw)} | ${mark('channels_last', pytorchChannelsLast)} | ${ratio?.toFixed(2) ?? 'n/a'} | ${cpuCell} |`);
    return {
      key: caseKey(c), ...c, width: c.network === 'recipe' ? options.width : null, convoyImagesPerSecond: round(convoy), pytorchImagesPerSecond: round(pytorch),
      pytorchMemoryFormat: pytorch === null ? null : fasterFormat, pytorchNchwImagesPerSecond: round(pytorchNchw), pytorchChannelsLastImagesPerSecond: round(pytorchChannelsLast),
      pytorchRatio: round(ratio, 3),
      convoyImagesPerCpuSecond: round(convoyCpu), pytorchImagesPerCpuSecond: round(pytorchCpu), pytorchRatioCpuTime: round(cpuRatio, 3), convoySkipped: s.convoySkipped,
    };
  });
  if (options.json) {
    process.stdout.write(JSON.stringify({
      benchmark: 'pytorch',
      machine,
      load: os.loadavg()[0],
      backend: backend.name,
      backendReason: reason,
      pytorch: skipped ? { skipped } : { torch: torchInfo?.torch, cpuCapability: torchInfo?.cpuCapability },
      pytorchRatio: Object.fromEntries(results.map((r) => [r.key, r.pytorchRatio])),
      pytorchRatioCpuTime: Object.fromEntries(results.filter((r) => r.pytorchRatioCpuTime !== null).map((r) => [r.key, r.pytorchRatioCpuTime])),
      cases: results,
    }) + '\n');
  }
}

function round(value: number | null, digits = 2): number | null {
  if (value === null) return null;
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

main().catch((error) => {
  process.stderr.write(`pytorch benchmark: ${(error as Error).message}\n`);
  process.exit(1);
});
