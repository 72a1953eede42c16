import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { Command, Option } from 'commander';
import { initCluster, mpiLaunch } from '@convoy/cluster';
import type { ImageSet } from '@convoy/data';
import { syntheticImageSet } from '@convoy/worker';
import { addBackendOption, addDataOptions, CORES, type ComputeOptions, type DataOptions, type JsonOptions } from '../cliOptions';
import { DEFAULT_RUN_CONFIG, modelSpecFor } from '@convoy/run';
import { CIFAR10_SHAPE } from '@convoy/data';
import type { ModelSpec } from '@convoy/nn';
import { modelSpecForData, readModelChoice } from '../modelChoice';
import { userPath } from '../config';
import { integerFlag } from '../flagParsers';
import { measureAcrossRanks, measureScaling, scalingChartSvg, scalingTable, threadLadder, type RankScalingResult, type ScalingResult } from '../scaling';
import { abortJob } from './distributed';
import { loadData } from './data';

export interface ScalingFlags {
  maxThreads: number;
  steps: number;
  warmupSteps: number;
  rounds: number;
  batchSize: number;
  width: number;
  model?: string;
  /** false with --no-augment. */
  augment: boolean;
  seed: number;
  synthetic?: boolean;
  svg: string;
  ranks?: number;
  hosts?: string;
  mpirunArgs?: string;
  stepTimeout: number;
}

/** --threads is not a scaling flag (--max-threads is), but --backend is. */
export type ScalingOptions = DataOptions & Pick<ComputeOptions, 'backend'> & ScalingFlags & JsonOptions;

/** The measured network: --model's (checked against CIFAR-10's shape and ten classes, before any work), else the recipe of --width. */
function measuredNetwork(opts: ScalingOptions): { modelSpec: ModelSpec; name: string } {
  if (!opts.model) return { modelSpec: modelSpecFor({ width: opts.width }), name: `width ${opts.width}` };
  const choice = readModelChoice(opts.model, { resolution: CIFAR10_SHAPE.height, width: opts.width });
  const modelSpec = modelSpecForData(choice, { classes: 10, channels: CIFAR10_SHAPE.channels, resolution: CIFAR10_SHAPE.height, name: 'CIFAR-10' });
  return { modelSpec, name: `model ${opts.model}` };
}

async function scaling(opts: ScalingOptions): Promise<void> {
  const { modelSpec, name: network } = measuredNetwork(opts);
  const train = opts.synthetic
    ? syntheticImageSet({ count: Math.max(2048, opts.batchSize * 4), seed: opts.seed })
    : (await loadData(opts)).train;
  if (opts.ranks !== undefined) {
    const launch = mpiLaunch(process.env);
    if (launch && launch.size > 1) return scalingRank(opts, train, modelSpec);
    return scalingAcrossRanks(opts, opts.ranks, train, modelSpec, network);
  }
  const ladder = threadLadder(opts.maxThreads);
  const say = (line: string) => (opts.json ? process.stderr : process.stdout).write(`${line}\n`);
  say(`scaling: ${opts.rounds} round(s) of ${opts.steps} timed steps (+${opts.warmupSteps} warm-up) of batch ${opts.batchSize}, ${network}, threads ${ladder.join(', ')} on ${CORES} cores`);
  const results = await measureScaling({
    threadCounts: ladder,
    batchSize: opts.batchSize,
    modelSpec,
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
  writeFileSync(svgPath, scalingChartSvg(results, `convoy scaling: batch ${opts.batchSize}, ${network}, ${CORES} cores`));
  say(`chart: ${svgPath}`);
  if (opts.json) {
    process.stdout.write(
      `${JSON.stringify({
        results: results.map((r) => ({ threads: r.threads, imagesPerSecond: r.imagesPerSecond, speedup: r.speedup, efficiency: r.efficiency, allReduceShare: r.allReduceShare, stepSeconds: r.stepSeconds })),
        allReduceShare: Math.max(...results.map((r) => r.allReduceShare)),
        batchSize: opts.batchSize,
        width: opts.width,
        model: opts.model ?? null,
        steps: opts.steps,
        rounds: opts.rounds,
        backend: results[0]?.backend,
        cores: CORES,
        chart: svgPath,
      })}\n`,
    );
  }
}

/** Marks rank 0's result line among mpirun's output. */
const RANK_RESULT = 'convoy-scaling-ranks:';

/** One rank of `convoy scaling --ranks N` under mpirun: every rank measures, rank 0 prints the result line. */
async function scalingRank(opts: ScalingOptions, train: ImageSet, modelSpec: ModelSpec): Promise<void> {
  const cluster = initCluster({ timeoutSeconds: opts.stepTimeout });
  try {
    const result = await measureAcrossRanks({
      cluster, threads: 1, batchSize: opts.batchSize, modelSpec, backend: opts.backend, steps: opts.steps,
      warmupSteps: opts.warmupSteps, rounds: opts.rounds, train, seed: opts.seed, augment: opts.augment,
    });
    if (cluster.rank === 0) process.stdout.write(`${RANK_RESULT}${JSON.stringify(result)}\n`);
    await cluster.finalize();
  } catch (err) {
    abortJob(cluster, err);
  }
}

/**
 * `convoy scaling --ranks N`: 1 process x 1 thread and 1 process x N threads measured here (before
 * and after, averaged), N processes x 1 thread under mpirun in between (on --hosts, one process each; default all on 127.0.0.1), with
 * the images/s, the speed-up over one thread, and the all-reduce's share of the step.
 */
async function scalingAcrossRanks(opts: ScalingOptions, ranks: number, train: ImageSet, modelSpec: ModelSpec, network: string): Promise<void> {
  const say = (line: string) => (opts.json ? process.stderr : process.stdout).write(`${line}\n`);
  say(`scaling: ${opts.rounds} round(s) of ${opts.steps} timed steps (+${opts.warmupSteps} warm-up) of batch ${opts.batchSize}, ${network}; 1 and ${ranks} thread(s), then ${ranks} processes x 1 thread`);
  // The in-process figures are measured before and after the mpirun run and averaged, so a change
  // of background load during the run does not land on one side of the comparison only.
  const measureLocal = () =>
    measureScaling({
      threadCounts: [1, ranks], batchSize: opts.batchSize, modelSpec, backend: opts.backend, steps: opts.steps,
      warmupSteps: opts.warmupSteps, rounds: opts.rounds, train, seed: opts.seed, augment: opts.augment,
    });
  const before = await measureLocal();
  const hosts = opts.hosts ? ['--host', opts.hosts, '--map-by', 'node'] : ['--host', `127.0.0.1:${ranks}`];
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  const args = [
    // --bind-to none: each rank gets its host's cores (docs/DISTRIBUTED.md, "Binding").
    ...(root ? ['--allow-run-as-root'] : []), '--oversubscribe', '--bind-to', 'none', '-np', String(ranks), ...hosts,
    ...(opts.mpirunArgs ? opts.mpirunArgs.split(/\s+/).filter(Boolean) : []),
    process.execPath, ...process.argv.slice(1),
  ];
  say(`mpirun ${args.join(' ')}`);
  const run = spawnSync('mpirun', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (run.error) throw new Error(`could not run mpirun (install Open MPI: bash tools/ci/setup-mpi.sh): ${run.error.message}`);
  const line = run.stdout.split('\n').find((l) => l.startsWith(RANK_RESULT));
  if (run.status !== 0 || !line) throw new Error(`the ${ranks}-process run failed (mpirun exit ${run.status}):\n${run.stdout}`);
  const across = JSON.parse(line.slice(RANK_RESULT.length)) as RankScalingResult;
  const after = await measureLocal();
  const [one, many] = before.map((b, k): ScalingResult => {
    const a = after[k];
    const imagesPerSecond = (b.imagesPerSecond + a.imagesPerSecond) / 2;
    return { ...b, imagesPerSecond, stepSeconds: (b.stepSeconds + a.stepSeconds) / 2, allReduceShare: (b.allReduceShare + a.allReduceShare) / 2 };
  });
  many.speedup = many.imagesPerSecond / one.imagesPerSecond;
  many.efficiency = many.speedup / ranks;
  say(`in-process images/s before and after the ${ranks}-process run: 1 thread ${before[0].imagesPerSecond.toFixed(1)} / ${after[0].imagesPerSecond.toFixed(1)}, ${ranks} threads ${before[1].imagesPerSecond.toFixed(1)} / ${after[1].imagesPerSecond.toFixed(1)} (the table has their means)`);
  const rows = [
    ['1 process x 1 thread', one.imagesPerSecond, 1, one.allReduceShare, Number.NaN],
    [`1 process x ${ranks} threads`, many.imagesPerSecond, many.speedup, many.allReduceShare, Number.NaN],
    [`${ranks} processes x 1 thread`, across.imagesPerSecond, across.imagesPerSecond / one.imagesPerSecond, across.allReduceShare, across.crossHostShare],
  ] as const;
  const header = ['configuration', 'images/s', 'speed-up', 'all-reduce share', 'of which MPI'];
  const cells = rows.map(([name, ips, speedup, share, mpi]) => [name, ips.toFixed(1), `${speedup.toFixed(2)}x`, `${(100 * share).toFixed(2)}%`, Number.isNaN(mpi) ? '-' : `${(100 * mpi).toFixed(2)}%`]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const format = (c: string[]) => c.map((v, i) => (i === 0 ? v.padEnd(widths[i]) : v.padStart(widths[i]))).join('  ');
  say([format(header), format(widths.map((w) => '-'.repeat(w))), ...cells.map(format)].join('\n'));
  const ratio = across.imagesPerSecond / many.imagesPerSecond;
  say(`${ranks} processes x 1 thread / 1 process x ${ranks} threads: ${ratio.toFixed(3)} (${across.places.join('; ')})`);
  if (opts.json) {
    process.stdout.write(
      `${JSON.stringify({ oneThread: one, threads: many, processes: across, processesOverThreads: ratio, before, after, batchSize: opts.batchSize, width: opts.width, steps: opts.steps, rounds: opts.rounds })}\n`,
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
        .default(CORES, `the CPUs this process may use, here ${CORES}`),
    )
    .option('--steps <n>', 'timed steps per thread count and round', integerFlag('--steps', 1), 5)
    .option('--warmup-steps <n>', 'untimed steps first (threads build their model, JIT warms up)', integerFlag('--warmup-steps', 0), 2)
    .option('--rounds <n>', 'interleaved rounds over the thread counts; each figure is the median round (evens out background load)', integerFlag('--rounds', 1), 3)
    .option('--batch-size <n>', 'global batch size', integerFlag('--batch-size', 1), DEFAULT_RUN_CONFIG.batchSize)
    .option('--width <n>', 'feature maps of the recipe network\'s first block', integerFlag('--width', 1, 512), DEFAULT_RUN_CONFIG.width)
    .option('--model <file|preset>', 'measure the network of a model file (for 32x32 RGB images, ten classes) or a preset (recipe, recipe-bn at --width) instead of the recipe network');
  addBackendOption(cmd);
  cmd
    .option('--no-augment', 'measure without crop + flip')
    .option('--seed <n>', 'seed of the initial parameters', integerFlag('--seed', 0, 2 ** 31 - 1), DEFAULT_RUN_CONFIG.seed);
  addDataOptions(cmd);
  cmd
    .option('--synthetic', 'use generated images instead of CIFAR-10 (same shapes, same speed)')
    .option('--svg <file>', 'where to write the chart', 'runs/scaling.svg')
    .option('--ranks <n>', 'instead: 1 process x 1 and x n threads, then n processes x 1 thread under mpirun (one all-reduce over processes per step)', integerFlag('--ranks', 2))
    .option('--hosts <list>', 'with --ranks: mpirun --host list, one process per host (default: all on 127.0.0.1)')
    .option('--mpirun-args <args>', "with --ranks: more mpirun arguments, space-separated (e.g. '--mca plm_rsh_agent ./ssh-stand-in')")
    .option('--step-timeout <seconds>', 'with --ranks: how long a rank waits for the others in one collective', integerFlag('--step-timeout', 1), 300)
    .option('--json', 'print one JSON line {"results":[{"threads","imagesPerSecond","speedup","efficiency",...}],...} on stdout (table on stderr)')
    .action(async (opts: ScalingOptions) => scaling(opts));
}
