/**
 * Kernel benchmark: GFLOP/s of every conv and pool of the CIFAR-10 recipe network (batch 32) per
 * backend, images/s of one training step on one thread, and the same step in ConvNetJS.
 *
 *   npx nx run benchmarks:kernels                    # table
 *   npx nx run benchmarks:kernels -- --json          # one JSON line on stdout (progress on stderr)
 *   node benchmarks/dist/kernels.js --backends wasm,wasm:plain --batch 32 --budget 1.5
 *   npx nx run benchmarks:kernels -- --model models/resnet9.json   # the step of a model file's network (ten classes)
 */
import { readFileSync } from 'fs';
import * as os from 'os';
import { checkModelFile, presetModelFile, type LayerModelSpec } from '@convoy/nn';
import { KernelBackend, WasmBackend, selectBackend } from '@convoy/kernels';
import { positiveInteger, positiveNumber, readFlags } from './args';
import { measureConvNetJsStep } from './convnetjsStep';
import { OpMeasurement, OpName, convTotalGflops, measureOps } from './opTable';
import { measureTrainingStep } from './trainingStep';

interface Options {
  json: boolean;
  backends: string[];
  batch: number;
  budgetSeconds: number;
  /** A model file or preset (recipe, recipe-bn) whose training step is measured instead of the recipe network's. */
  model: string | null;
}

const USAGE = 'usage: kernels [--json] [--backends wasm,wasm:plain,wasm:im2col,reference,gpujs] [--batch 32] [--budget 1.5] [--model <file|recipe|recipe-bn>]';

/** The network of --model for ten classes: a preset at CIFAR-10's side, or a JSON model file, checked by nn's checkModelFile. */
function modelOf(name: string): LayerModelSpec {
  const json = presetModelFile(name, { resolution: 32, width: 32 }) ?? (JSON.parse(readFileSync(name, 'utf8')) as unknown);
  return { kind: 'layers', classes: 10, ...checkModelFile(json, 10).spec };
}

function parseArgs(rawArgv: string[]): Options {
  const options: Options = { json: false, backends: ['wasm', 'wasm:plain', 'wasm:im2col', 'reference', 'gpujs'], batch: 32, budgetSeconds: 1.5, model: null };
  readFlags(rawArgv, USAGE, (flag, args) => {
    if (flag === '--json') options.json = args.optionalBoolean();
    else if (flag === '--backends') options.backends = args.value().split(',').filter(Boolean);
    else if (flag === '--batch') options.batch = positiveInteger(flag, args.value());
    else if (flag === '--budget') options.budgetSeconds = positiveNumber(flag, args.value());
    else if (flag === '--model') options.model = args.value();
    else return false;
    return true;
  });
  return options;
}

const CONV_OPS: OpName[] = ['conv2d', 'conv2dBackwardInput', 'conv2dBackwardWeights'];

function main(): void {
  const options = parseArgs(process.argv.slice(2));
  // Checked before anything is measured: a bad file fails at once.
  const model = options.model ? modelOf(options.model) : null;
  const log = (line: string) => (options.json ? process.stderr : process.stdout).write(line + '\n');
  const machine = `${os.cpus().length} x ${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.arch()}, Node ${process.version}, load ${os.loadavg()[0].toFixed(2)}`;
  log(`machine: ${machine}`);
  log(`batch ${options.batch}, one thread; median wall time per call`);
  log('conv GFLOP/s = 2 x the multiply-adds of a direct convolution / time; the Winograd path does');
  log('fewer multiplications, so for it (wasm on 3x3 stride-1 convs) the rate is an effective one.');

  log(`wasm builds: ${(selectBackend('wasm').backend as WasmBackend).variant} by default here (wasm:plain is SIMD 128 mul + add, wasm:relaxed fused multiply-add)`);
  const auto = selectBackend('auto');
  log(`auto backend: ${auto.backend.name} (${auto.reason})`);

  const backends: KernelBackend[] = [];
  for (const name of options.backends) {
    try {
      backends.push(selectBackend(name).backend);
    } catch (error) {
      log(`backend ${name}: skipped (${(error as Error).message.split('\n')[0]})`);
    }
  }

  const rows: OpMeasurement[] = [];
  for (const backend of backends) {
    log(`measuring ${backend.name} ...`);
    rows.push(...measureOps(backend, options.batch, { budgetSeconds: options.budgetSeconds }));
  }
  printOpTable(rows, backends.map((b) => b.name), log);

  const cpu = selectBackend('wasm').backend;
  const cpuRows = rows.some((r) => r.backend === cpu.name) ? rows : measureOps(cpu, options.batch, { budgetSeconds: options.budgetSeconds });
  const convGflops = Object.fromEntries(CONV_OPS.map((op) => [op, convTotalGflops(cpuRows, op, cpu.name)])) as Record<OpName, number>;
  const convCpuGflops = Object.fromEntries(CONV_OPS.map((op) => [op, convTotalGflops(cpuRows, op, cpu.name, true)])) as Record<OpName, number>;

  const network = options.model ? `model ${options.model}` : 'recipe net';
  log(`training step (${network}, batch ${options.batch}, ${cpu.name}) ...`);
  const step = measureTrainingStep(cpu, options.batch, Math.max(2, options.budgetSeconds * 2), model ?? undefined);
  // ConvNetJS runs the recipe network only: the comparison means something for it alone.
  log(model ? 'ConvNetJS step: skipped (it runs the recipe network, not --model\'s)' : 'ConvNetJS step ...');
  const convnetjs = model ? null : measureConvNetJsStep(Math.max(3, options.budgetSeconds * 2));
  const ratio = convnetjs ? step.imagesPerSecond / convnetjs.imagesPerSecond : Number.NaN;
  const cpuRatio = convnetjs ? step.imagesPerCpuSecond / convnetjs.imagesPerCpuSecond : Number.NaN;

  log('');
  log(`3x3 convs of the recipe net, ${cpu.name}, one thread: forward ${convGflops.conv2d.toFixed(1)} GFLOP/s, ` +
    `backward-input ${convGflops.conv2dBackwardInput.toFixed(1)}, backward-weights ${convGflops.conv2dBackwardWeights.toFixed(1)}`);
  log(`training step of the ${network} (forward + backward + SGD, batch ${step.batch}, one thread, ${cpu.name}): ` +
    `${(step.secondsPerStep * 1e3).toFixed(1)} ms = ${step.imagesPerSecond.toFixed(1)} images/s (median of ${step.steps})`);
  if (convnetjs) {
    log(`ConvNetJS 0.3, same network, one thread: ${convnetjs.imagesPerSecond.toFixed(2)} images/s (${convnetjs.images} images)`);
    log(`speed-up over ConvNetJS: ${ratio.toFixed(1)}x`);
  }
  log(`by CPU time (robust on a shared machine): forward ${convCpuGflops.conv2d.toFixed(1)} GFLOP/s, ` +
    `backward-input ${convCpuGflops.conv2dBackwardInput.toFixed(1)}, backward-weights ${convCpuGflops.conv2dBackwardWeights.toFixed(1)}; ` +
    `step ${step.imagesPerCpuSecond.toFixed(1)} images/s` +
    (convnetjs ? `; ConvNetJS ${convnetjs.imagesPerCpuSecond.toFixed(2)} images/s; ${cpuRatio.toFixed(1)}x` : ''));

  if (options.json) {
    const summary = {
      benchmark: 'kernels',
      machine,
      batch: options.batch,
      threads: 1,
      cpuBackend: cpu.name,
      autoBackend: auto.backend.name,
      conv3x3ForwardGflops: round(convGflops.conv2d),
      conv3x3BackwardInputGflops: round(convGflops.conv2dBackwardInput),
      conv3x3BackwardWeightsGflops: round(convGflops.conv2dBackwardWeights),
      model: options.model,
      stepImagesPerSecond: round(step.imagesPerSecond),
      convnetjsStepImagesPerSecond: convnetjs ? round(convnetjs.imagesPerSecond, 3) : null,
      speedupOverConvnetjs: convnetjs ? round(ratio) : null,
      cpuTime: {
        conv3x3ForwardGflops: round(convCpuGflops.conv2d),
        conv3x3BackwardInputGflops: round(convCpuGflops.conv2dBackwardInput),
        conv3x3BackwardWeightsGflops: round(convCpuGflops.conv2dBackwardWeights),
        stepImagesPerSecond: round(step.imagesPerCpuSecond),
        convnetjsStepImagesPerSecond: convnetjs ? round(convnetjs.imagesPerCpuSecond, 3) : null,
        speedupOverConvnetjs: convnetjs ? round(cpuRatio) : null,
      },
      ops: rows.map((r) => ({
        op: r.op, shape: r.shape, backend: r.backend, ms: round(r.seconds * 1e3, 3), gflops: round(r.gflops), cpuGflops: round(r.flops / r.cpuSeconds / 1e9),
      })),
    };
    process.stdout.write(JSON.stringify(summary) + '\n');
  }
}

function printOpTable(rows: readonly OpMeasurement[], backends: readonly string[], log: (line: string) => void): void {
  log('');
  log(`| op | shape | ${backends.map((b) => `${b} GFLOP/s wall / CPU (ms)`).join(' | ')} |`);
  log(`| --- | --- | ${backends.map(() => '---').join(' | ')} |`);
  const keys = [...new Set(rows.map((r) => `${r.op}\u0000${r.shape}`))];
  for (const key of keys) {
    const [op, shape] = key.split('\u0000');
    const cells = backends.map((b) => {
      const r = rows.find((x) => x.op === op && x.shape === shape && x.backend === b);
      return r ? `${r.gflops.toFixed(2)} / ${(r.flops / r.cpuSeconds / 1e9).toFixed(2)} (${(r.seconds * 1e3).toFixed(2)})` : 'n/a';
    });
    log(`| ${op} | ${shape} | ${cells.join(' | ')} |`);
  }
  for (const op of CONV_OPS) {
    log(`| ${op} | all six 3x3 | ${backends.map((b) => `${convTotalGflops(rows, op, b).toFixed(2)} / ${convTotalGflops(rows, op, b, true).toFixed(2)}`).join(' | ')} |`);
  }
}

function round(value: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

main();
