import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { Option, type Command } from 'commander';
import { writeFileAtomic } from '../checkpoint';
import { userPath } from '../config';
import { defaultRunLabels, learningCurveSvg, learningCurveTable, readRunCurve } from '../learningCurve';
import { UsageError } from '../usageError';

export interface CurveOptions {
  svg: string;
  label: string[];
  title?: string;
}

/** Each log's name in the chart and table: the --label given in its place, else its file's. */
function runLabels(logs: string[], labels: string[]): string[] {
  if (labels.length > logs.length) {
    throw new UsageError(`${labels.length} --label for ${logs.length} log${logs.length === 1 ? '' : 's'}: give at most one --label per log, in the logs' order`);
  }
  if (labels.some((l) => l.trim() === '')) throw new UsageError('--label is empty: give each run a name to show in the legend and the table');
  const defaults = defaultRunLabels(logs, (path) => userPath(path));
  return logs.map((_, i) => labels[i] ?? defaults[i]);
}

function curve(logs: string[], opts: CurveOptions): void {
  const labels = runLabels(logs, opts.label);
  const svgPath = userPath(opts.svg);
  const clash = logs.find((log) => userPath(log) === svgPath);
  if (clash) throw new UsageError(`--svg ${opts.svg} is the log ${clash}: writing the chart there would replace the log; give another file`);
  const runs = logs.map((log, i) => readRunCurve(userPath(log), labels[i]));
  mkdirSync(dirname(svgPath), { recursive: true });
  writeFileAtomic(svgPath, Buffer.from(learningCurveSvg(runs, opts.title)));
  process.stdout.write(learningCurveTable(runs));
  process.stdout.write(`chart: ${svgPath}\n`);
}

const collect = (value: string, previous: string[]) => [...previous, value];

/** `convoy curve <log...>`: the learning curves of one or more runs, in one chart. */
export function addCurveCommand(program: Command): void {
  program
    .command('curve')
    .description('learning-curve chart (SVG: accuracy and loss per epoch) and a Markdown table, from the logs of one or more runs side by side')
    .argument(
      '<logs...>',
      "JSONL logs with one epoch record per epoch: convoy train's metrics log (e.g. runs/cifar10/metrics.jsonl) or tools/pytorch/train_model_file.py's --log file",
    )
    .addOption(
      new Option('--label <name>', "a run's name in the legend and the table, once per log in the logs' order")
        .argParser(collect)
        .default([], "the log's file name, or its folder's for metrics.jsonl"),
    )
    .option('--title <text>', "the chart's title (default: \"learning curve: \" and the runs' names)")
    .option('--svg <file>', 'where to write the chart', 'runs/learning-curve.svg')
    .addHelpText(
      'after',
      "\nThe table (stdout) has a row per epoch with each run's train/test loss and accuracy, and a\n" +
        "last row with each run's test loss and accuracy with test-time augmentation where its log\n" +
        'has one (a diamond in the chart).\n\n' +
        'Example, convoy and PyTorch on the same model file and recipe:\n' +
        '  convoy curve runs/cifar-fast/metrics.jsonl runs/pytorch-airbench.jsonl --label convoy --label pytorch --svg runs/curve.svg\n',
    )
    .action((logs: string[], opts: CurveOptions) => curve(logs, opts));
}
