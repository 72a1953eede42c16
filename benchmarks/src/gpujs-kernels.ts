/**
 * GFLOP/s of the gpu.js backend, per mode, on the 3x3 convs of the CIFAR recipe network (forward,
 * backward input, backward weights+bias), one thread.
 *
 *   npx nx run benchmarks:build
 *   node benchmarks/dist/gpujs-kernels.js                         # webasm and cpu modes
 *   xvfb-run -a node benchmarks/dist/gpujs-kernels.js --modes webasm,cpu,headlessgl
 *   node benchmarks/dist/gpujs-kernels.js --batch 8 --json        # one JSON line on stdout
 *
 * Self-contained (shapes and timing here) so that it can be folded into `benchmarks:kernels`.
 * FLOPs are counted as 2 x the forward multiply-adds for each of the three ops (they do the same
 * arithmetic). A mode that cannot run here is reported with gpu.js's reason, not skipped silently.
 */
import {
  type Conv2dGeometry,
  type GpuJsBackend,
  type GpuJsMode,
  conv2dMultiplyAdds,
  conv2dOutputHeight,
  conv2dOutputWidth,
  createGpuJsBackend,
  gpuJsModesAvailable,
} from '@convoy/kernels';
import { RECIPE_CONVS } from './recipeShapes';


const OPS = ['forward', 'backwardInput', 'backwardWeights'] as const;
type Op = (typeof OPS)[number];

interface Row {
  mode: string;
  shape: string;
  op: Op;
  gflops: number;
  seconds: number;
}

function parseArgs(argv: string[]): { modes: string[]; batch: number; json: boolean } {
  let modes = ['webasm', 'cpu'];
  let batch = 32;
  let json = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--modes') modes = (argv[++i] ?? '').split(',').filter(Boolean);
    else if (arg === '--batch') batch = Number(argv[++i]);
    else if (arg === '--json') json = true;
    else throw new Error(`unknown argument ${arg}; expected --modes a,b,c  --batch N  --json`);
  }
  if (!Number.isInteger(batch) || batch < 1) throw new Error(`--batch must be a positive integer, got ${batch}`);
  return { modes, batch, json };
}

/** Median of timed calls after one warm-up call (which compiles the kernel); at least 3 runs or 1.5 s. */
function medianSeconds(fn: () => void): number {
  fn();
  const samples: number[] = [];
  const start = process.hrtime.bigint();
  while (samples.length < 3 || (samples.length < 50 && Number(process.hrtime.bigint() - start) / 1e9 < 1.5)) {
    const t0 = process.hrtime.bigint();
    fn();
    samples.push(Number(process.hrtime.bigint() - t0) / 1e9);
    // a call over 2 s is measured three times at most: slow modes cost seconds, not minutes
    if (samples.length >= 3 && samples[0] > 2) break;
  }
  samples.sort((a, b) => a - b);
  return samples[samples.length >> 1];
}

function randomArray(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = s / 2 ** 31 - 1;
  }
  return a;
}

function benchmarkMode(backend: GpuJsBackend, mode: string, batch: number, report: (row: Row) => void): void {
  for (const { inChannels, outChannels, side } of RECIPE_CONVS) {
    const g: Conv2dGeometry = {
      batch, inChannels, outChannels, inHeight: side, inWidth: side,
      kernelHeight: 3, kernelWidth: 3, strideHeight: 1, strideWidth: 1, padHeight: 1, padWidth: 1,
    };
    const input = randomArray(batch * inChannels * side * side, 1);
    const weight = randomArray(outChannels * inChannels * 9, 2);
    const bias = randomArray(outChannels, 3);
    const outLength = batch * outChannels * conv2dOutputHeight(g) * conv2dOutputWidth(g);
    const output = new Float32Array(outLength);
    const gradOutput = randomArray(outLength, 4);
    const gradInput = new Float32Array(input.length);
    const gradWeight = new Float32Array(weight.length);
    const gradBias = new Float32Array(outChannels);
    const flops = 2 * conv2dMultiplyAdds(g);
    const calls: Record<Op, () => void> = {
      forward: () => backend.conv2d(g, input, weight, bias, output),
      backwardInput: () => backend.conv2dBackwardInput(g, gradOutput, weight, gradInput),
      backwardWeights: () => backend.conv2dBackwardWeights(g, input, gradOutput, gradWeight, gradBias),
    };
    for (const op of OPS) {
      const seconds = medianSeconds(calls[op]);
      report({ mode, shape: `${inChannels}->${outChannels} @${side}`, op, seconds, gflops: flops / seconds / 1e9 });
    }
  }
}

function main(): void {
  const { modes, batch, json } = parseArgs(process.argv.slice(2));
  const probes = new Map(gpuJsModesAvailable().map((p) => [p.mode as string, p]));
  const rows: Row[] = [];
  const unavailable: Record<string, string> = {};
  const log = json ? (line: string) => process.stderr.write(line + '\n') : (line: string) => console.log(line);
  log(`gpu.js conv GFLOP/s, recipe 3x3 convs, batch ${batch}, one thread (median; shared machine: noisy)`);
  for (const requested of modes) {
    const mode = requested === 'wasm' ? 'webasm' : requested;
    const probe = probes.get(mode);
    if (!probe || !probe.available) {
      unavailable[mode] = probe?.reason ?? `unknown gpu.js mode ${mode}`;
      log(`${mode}: not available here: ${unavailable[mode]}`);
      continue;
    }
    const backend = createGpuJsBackend({ mode: mode as GpuJsMode });
    try {
      log(`${backend.name}:`);
      benchmarkMode(backend, mode, batch, (row) => {
        rows.push(row);
        log(`  ${row.shape.padEnd(12)} ${row.op.padEnd(16)} ${row.gflops.toFixed(3).padStart(8)} GFLOP/s  (${(row.seconds * 1e3).toFixed(1)} ms)`);
      });
      const modeRows = rows.filter((r) => r.mode === mode);
      for (const op of OPS) {
        const opRows = modeRows.filter((r) => r.op === op);
        const flops = opRows.reduce((sum, r) => sum + r.gflops * r.seconds, 0);
        const seconds = opRows.reduce((sum, r) => sum + r.seconds, 0);
        log(`  all 6 convs  ${op.padEnd(16)} ${(flops / seconds).toFixed(3).padStart(8)} GFLOP/s  (${(seconds * 1e3).toFixed(1)} ms)`);
      }
    } finally {
      backend.dispose();
    }
  }
  if (json) process.stdout.write(JSON.stringify({ benchmark: 'gpujs-kernels', batch, rows, unavailable }) + '\n');
}

main();
