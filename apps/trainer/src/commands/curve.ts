import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Command } from 'commander';
import { userPath } from '../config';
import { learningCurveSvg, readEpochRecords } from '../learningCurve';
import { UsageError } from '../usageError';

export interface CurveOptions {
  svg: string;
}

function curve(log: string, opts: CurveOptions): void {
  const points = readEpochRecords(userPath(log));
  if (points.length === 0) throw new UsageError(`${log} has no epoch records yet`);
  const svgPath = userPath(opts.svg);
  mkdirSync(dirname(svgPath), { recursive: true });
  writeFileSync(svgPath, learningCurveSvg(points));
  process.stdout.write('| epoch | train loss | train acc | test loss | test acc |\n| ---: | ---: | ---: | ---: | ---: |\n');
  for (const p of points) {
    process.stdout.write(
      `| ${p.epoch} | ${p.trainLoss.toFixed(4)} | ${(100 * p.trainAccuracy).toFixed(2)}% | ${p.testLoss.toFixed(4)} | ${(100 * p.testAccuracy).toFixed(2)}% |\n`,
    );
  }
  process.stdout.write(`chart: ${svgPath}\n`);
}

/** `convoy curve <metrics.jsonl>`: the learning curve of a run. */
export function addCurveCommand(program: Command): void {
  program
    .command('curve')
    .description('learning-curve chart (SVG) and a Markdown table from a metrics log')
    .argument('<log>', 'the JSONL metrics log of a run (e.g. runs/cifar10/metrics.jsonl)')
    .option('--svg <file>', 'where to write the chart', 'runs/learning-curve.svg')
    .action((log: string, opts: CurveOptions) => curve(log, opts));
}
