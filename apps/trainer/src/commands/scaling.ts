import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { Command, Option } from 'commander';
import { syntheticImageSet } from '@convoy/worker';
import { addBackendOption, addDataOptions, CORES, type ComputeOptions, type DataOptions, type JsonOptions } from '../cliOptions';
import { DEFAULT_RUN_CONFIG, userPath } from '../config';
import { integerFlag } from '../flagParsers';
import { measureScaling, scalingChartSvg, scalingTable, threadLadder } from '../scaling';
import { loadData } from './data';

export interface ScalingFlags {
  maxThreads: number;
  steps: number;
  warmupSteps: number;
  rounds: number;
  batchSize: number;
  width: number;
  /** false with --no-augment. */
  augment: boolean;
  seed: number;
  synthetic?: boolean;
  svg: string;
}

/** --threads is not a scaling flag (--max-threads is), but --backend is. */
export type ScalingOptions = DataOptions & Pick<ComputeOptions, 'backend'> & ScalingFlags & JsonOptions;

async function scaling(opts: ScalingOptions): Promise<void> {
  const ladder = threadLadder(opts.maxThreads);
  const train = opts.synthetic
    ? syntheticImageSet({ count: Math.max(2048, opts.batchSize * 4), seed: opts.seed })
    : (await loadData(opts)).train;
  const say = (line: string) => (opts.json ? process.stderr : process.stdout).write(`${line}\n`);
  say(`scaling: ${opts.rounds} round(s) of ${opts.steps} timed steps (+${opts.warmupSteps} warm-up) of batch ${opts.batchSize}, width ${opts.width}, threads ${ladder.join(', ')} on ${CORES} cores`);
  const results = await measureScaling({
    threadCounts: ladder,
    batchSize: opts.batchSize,
    width: opts.width,
    backend: opts.backend,
    steps: opts.steps,
    warmupSteps: opts.warmupSteps,
    rounds: opts.rounds,
    train,
    seed: opts.seed,
    augment: opts.augment,
    onResult: (r) => say(`  ${r.threads} thread(s): ${r.imagesPerSecond.toFixed(1)} images/s (${r.backend})`),
  });
  say(scalingTable(results));
  const svgPath = userPath(opts.svg);
  mkdirSync(dirname(svgPath), { recursive: true });
  writeFileSync(svgPath, scalingChartSvg(results, `convoy scaling: batch ${opts.batchSize}, width ${opts.width}, ${CORES} cores`));
  say(`chart: ${svgPath}`);
  if (opts.json) {
    process.stdout.write(
      `${JSON.stringify({
        results: results.map((r) => ({ threads: r.threads, imagesPerSecond: r.imagesPerSecond, speedup: r.speedup, efficiency: r.efficiency, allReduceShare: r.allReduceShare, stepSeconds: r.stepSeconds })),
        allReduceShare: Math.max(...results.map((r) => r.allReduceShare)),
        batchSize: opts.batchSize,
        width: opts.width,
        steps: opts.steps,
        rounds: opts.rounds,
        backend: results[0]?.backend,
        cores: CORES,
        chart: svgPath,
      })}\n`,
    );
  }
}

/** `convoy scaling`: the training step's images/s at 1, 2, 4 ... threads. */
export function addScalingCommand(program: Command): void {
  const cmd = program
    .command('scaling')
    .description('images/s, speed-up and efficiency of the training step at 1, 2, 4 ... threads; table, SVG chart, --json')
    .addOption(
      new Option('--max-threads <n>', 'largest thread count (measured: powers of two below it, and it)')
        .argParser(integerFlag('--max-threads', 1, 1024))
        .default(CORES, `the number of cores, here ${CORES}`),
    )
    .option('--steps <n>', 'timed steps per thread count and round', integerFlag('--steps', 1), 5)
    .option('--warmup-steps <n>', 'untimed steps first (threads build their model, JIT warms up)', integerFlag('--warmup-steps', 0), 2)
    .option('--rounds <n>', 'interleaved rounds over the thread counts; each figure is the median round (evens out background load)', integerFlag('--rounds', 1), 3)
    .option('--batch-size <n>', 'global batch size', integerFlag('--batch-size', 1), DEFAULT_RUN_CONFIG.batchSize)
    .option('--width <n>', 'feature maps of the first block', integerFlag('--width', 1, 512), DEFAULT_RUN_CONFIG.width);
  addBackendOption(cmd);
  cmd
    .option('--no-augment', 'measure without crop + flip')
    .option('--seed <n>', 'seed of the initial parameters', integerFlag('--seed', 0, 2 ** 31 - 1), DEFAULT_RUN_CONFIG.seed);
  addDataOptions(cmd);
  cmd
    .option('--synthetic', 'use generated images instead of CIFAR-10 (same shapes, same speed)')
    .option('--svg <file>', 'where to write the chart', 'runs/scaling.svg')
    .option('--json', 'print one JSON line {"results":[{"threads","imagesPerSecond","speedup","efficiency",...}],...} on stdout (table on stderr)')
    .action(async (opts: ScalingOptions) => scaling(opts));
}
