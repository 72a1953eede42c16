import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { figureSvg, seriesColor, type ChartSeries, type LegendEntry, type LineChartOptions } from './svgChart';
import { UsageError } from './usageError';

/** One epoch of a run; NaN where the log has no number (a run without a test set writes null). */
export interface EpochPoint {
  epoch: number;
  trainLoss: number;
  trainAccuracy: number;
  testLoss: number;
  testAccuracy: number;
}

/** The test set evaluated with test-time augmentation after an epoch. */
export interface TtaPoint {
  epoch: number;
  /** The augmentation, e.g. flip-translate. */
  mode: string;
  accuracy: number;
  loss: number;
}

/** One run's learning curve as its log tells it, under the name the chart and table give it. */
export interface RunCurve {
  label: string;
  epochs: EpochPoint[];
  /** Ordered by epoch; the last one is the run's final score with TTA. */
  tta: TtaPoint[];
}

/** Where the two kinds of log a curve is read from come from, for error messages. */
const LOG_SOURCES = "convoy train's metrics log (<checkpoint-dir>/metrics.jsonl, or its --log) or tools/pytorch/train_model_file.py's --log file";

const EPOCH_FIELDS = ['trainLoss', 'trainAccuracy', 'testLoss', 'testAccuracy'] as const;

type LogRecord = Record<string, unknown>;

function readLogText(logPath: string): string {
  if (existsSync(logPath) && statSync(logPath).isDirectory()) {
    const inside = join(logPath, 'metrics.jsonl');
    throw new UsageError(`${logPath} is a folder, not a log: ${existsSync(inside) ? `give its log, ${inside}` : `give ${LOG_SOURCES}`}`);
  }
  try {
    return readFileSync(logPath, 'utf8');
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message;
    throw new UsageError(`cannot read ${logPath} (${reason}): give ${LOG_SOURCES}`);
  }
}

/** The log's JSON records with their line numbers; a line that is not a JSON object is named. */
function readLogRecords(logPath: string): Array<{ record: LogRecord; line: number }> {
  const records: Array<{ record: LogRecord; line: number }> = [];
  readLogText(logPath)
    .split('\n')
    .forEach((text, i) => {
      if (text.trim() === '') return;
      let record: unknown;
      try {
        record = JSON.parse(text);
      } catch {
        record = null;
      }
      if (record === null || typeof record !== 'object' || Array.isArray(record)) {
        throw new UsageError(`${logPath}:${i + 1}: not a JSON line; a curve is read from ${LOG_SOURCES} (one JSON record per line)`);
      }
      records.push({ record: record as LogRecord, line: i + 1 });
    });
  return records;
}

/** A number field of an epoch record: null (what JSON makes of NaN, e.g. no test set) reads as NaN. */
function numberField(record: LogRecord, field: string, where: string): number {
  const value = record[field];
  if (value === null) return Number.NaN;
  if (typeof value !== 'number') throw new UsageError(`${where}: the epoch record's ${field} is ${JSON.stringify(value) ?? 'missing'}, not a number; is this ${LOG_SOURCES}?`);
  return value;
}

function epochPoint(record: LogRecord, where: string): EpochPoint {
  const epoch = record.epoch;
  if (typeof epoch !== 'number' || !Number.isInteger(epoch) || epoch < 1) {
    throw new UsageError(`${where}: the epoch record's epoch is ${JSON.stringify(epoch) ?? 'missing'}, not a whole number from 1`);
  }
  const point = { epoch } as EpochPoint;
  for (const field of EPOCH_FIELDS) point[field] = numberField(record, field, where);
  return point;
}

/** The TTA score a record carries: convoy's on its epoch record, PyTorch's (train_model_file.py) on its end record. */
function ttaOf(record: LogRecord): Omit<TtaPoint, 'epoch'> | null {
  const [accuracy, loss] = record.type === 'epoch' ? [record.ttaTestAccuracy, record.ttaTestLoss] : [record.ttaAccuracy, record.ttaLoss];
  if (typeof accuracy !== 'number') return null;
  return { mode: typeof record.tta === 'string' ? record.tta : 'tta', accuracy, loss: typeof loss === 'number' ? loss : Number.NaN };
}

/**
 * A run's curve from its log: convoy train's metrics log or train_model_file.py's --log file (both
 * have one `"type":"epoch"` record per epoch). A resumed run appends to the same file; if an epoch
 * appears twice (a part that was re-run), the later line wins. The TTA score is convoy's epoch
 * record's or, for PyTorch, the end record's, which belongs to the last epoch trained.
 */
export function readRunCurve(logPath: string, label: string): RunCurve {
  const epochs = new Map<number, EpochPoint>();
  const tta = new Map<number, TtaPoint>();
  for (const { record, line } of readLogRecords(logPath)) {
    if (record.type !== 'epoch' && record.type !== 'end') continue;
    const score = ttaOf(record);
    if (record.type === 'epoch') {
      const point = epochPoint(record, `${logPath}:${line}`);
      epochs.set(point.epoch, point);
      if (score) tta.set(point.epoch, { epoch: point.epoch, ...score });
      else tta.delete(point.epoch);
    } else if (score && epochs.size > 0) {
      const last = Math.max(...epochs.keys());
      tta.set(last, { epoch: last, ...score });
    }
  }
  if (epochs.size === 0) {
    throw new UsageError(`${logPath} has no epoch records: a curve needs ${LOG_SOURCES} of a run that finished at least one epoch`);
  }
  const byEpoch = <T extends { epoch: number }>(a: T, b: T) => a.epoch - b.epoch;
  return { label, epochs: [...epochs.values()].sort(byEpoch), tta: [...tta.values()].sort(byEpoch) };
}

/**
 * A name for each log: its file name without the extension, or, for convoy's `metrics.jsonl`, its
 * folder's (the run folder says which run it is). Where two logs would share a name, the path as
 * given tells them apart.
 */
export function defaultRunLabels(logPaths: string[], resolvePath: (path: string) => string = resolve): string[] {
  const names = logPaths.map((path) => {
    const name = basename(path, extname(path));
    return name === 'metrics' ? basename(dirname(resolvePath(path))) : name;
  });
  return names.map((name, i) => (names.indexOf(name) !== names.lastIndexOf(name) ? logPaths[i] : name));
}

const percent = (fraction: number) => 100 * fraction;

/** The epochs on the x axis: each one while they are few enough to label. */
function epochTicks(runs: RunCurve[]): number[] | undefined {
  const epochs = [...new Set(runs.flatMap((run) => run.epochs.map((p) => p.epoch)))].sort((a, b) => a - b);
  return epochs.length <= 20 ? epochs : undefined;
}

/** The accuracy chart starts at the ten below its lowest value, so the curves near the top stay apart. */
function accuracyFloor(runs: RunCurve[]): number {
  const values = runs
    .flatMap((run) => [...run.epochs.flatMap((p) => [p.testAccuracy, p.trainAccuracy]), ...run.tta.map((t) => t.accuracy)])
    .filter(Number.isFinite)
    .map(percent);
  return values.length ? Math.max(0, 10 * Math.floor(Math.min(...values) / 10)) : 0;
}

function curveSeries(run: RunCurve, color: string, test: keyof EpochPoint, train: keyof EpochPoint, scale: (v: number) => number, what: string): ChartSeries[] {
  return [
    { name: `${run.label} test ${what}`, color, points: run.epochs.map((p) => [p.epoch, scale(p[test])]) },
    { name: `${run.label} train ${what}`, color, dashed: true, points: run.epochs.map((p) => [p.epoch, scale(p[train])]) },
  ];
}

function ttaSuffix(run: RunCurve): string {
  const final = run.tta.at(-1);
  return final ? ` (with TTA ${percent(final.accuracy).toFixed(2)}%)` : '';
}

/**
 * The runs' learning curves as one SVG figure: accuracy per epoch on the left (test solid, train
 * dashed, test with TTA a diamond), loss per epoch on the right; one colour per run.
 */
export function learningCurveSvg(runs: RunCurve[], title = `learning curve: ${runs.map((r) => r.label).join(' vs ')}`): string {
  const colors = runs.map((_, i) => seriesColor(i));
  const xTicks = epochTicks(runs);
  const size = { width: 480, height: 360 };
  const accuracy: LineChartOptions = {
    ...size, title: 'accuracy', xLabel: 'epoch', yLabel: 'accuracy (%)', xTicks, yMin: accuracyFloor(runs), yMax: 100,
    series: runs.flatMap((run, i) => [
      ...curveSeries(run, colors[i], 'testAccuracy', 'trainAccuracy', percent, 'accuracy'),
      {
        name: `${run.label} test accuracy with TTA`, color: colors[i], style: 'diamond' as const, dodge: 10 * (i - (runs.length - 1) / 2),
        points: run.tta.map((t): [number, number] => [t.epoch, percent(t.accuracy)]),
      },
    ]),
  };
  const loss: LineChartOptions = {
    ...size, title: 'loss', xLabel: 'epoch', yLabel: 'cross-entropy loss', xTicks,
    series: runs.flatMap((run, i) => curveSeries(run, colors[i], 'testLoss', 'trainLoss', (v) => v, 'loss')),
  };
  const runEntries: LegendEntry[] = runs.map((run, i) => ({ name: `${run.label}${ttaSuffix(run)}`, color: colors[i] }));
  const key: LegendEntry[] = [
    { name: 'test', color: '#555' },
    { name: 'train (running, augmented)', color: '#555', dashed: true },
    ...(runs.some((r) => r.tta.length > 0) ? [{ name: 'test with TTA', color: '#555', style: 'diamond' as const }] : []),
  ];
  const runRows: LegendEntry[][] = [];
  for (let i = 0; i < runEntries.length; i += 3) runRows.push(runEntries.slice(i, i + 3));
  return figureSvg({ title, charts: [accuracy, loss], legend: [...runRows, key] });
}

const formatLoss = (v: number) => (Number.isFinite(v) ? v.toFixed(4) : '–');
const formatAccuracy = (v: number) => (Number.isFinite(v) ? `${percent(v).toFixed(2)}%` : '–');

/** The table's columns, metric by metric (each run's side by side under one metric). */
const TABLE_METRICS: Array<{ field: keyof EpochPoint; header: string; format: (v: number) => string }> = [
  { field: 'trainLoss', header: 'train loss', format: formatLoss },
  { field: 'trainAccuracy', header: 'train acc', format: formatAccuracy },
  { field: 'testLoss', header: 'test loss', format: formatLoss },
  { field: 'testAccuracy', header: 'test acc', format: formatAccuracy },
];

const tableRow = (cells: string[]) => `| ${cells.join(' | ')} |\n`;

/**
 * The runs' epochs as a Markdown table: one row per epoch, each metric's column once per run
 * (named after the run when there are several), '–' where a run has no such epoch; then a row
 * with each run's final test loss and accuracy with TTA when any run has one.
 */
export function learningCurveTable(runs: RunCurve[]): string {
  const several = runs.length > 1;
  const escape = (label: string) => label.replace(/\|/g, '\\|');
  const header = ['epoch', ...TABLE_METRICS.flatMap((m) => runs.map((r) => (several ? `${escape(r.label)} ${m.header}` : m.header)))];
  let table = tableRow(header) + tableRow(header.map(() => '---:'));
  const epochs = [...new Set(runs.flatMap((run) => run.epochs.map((p) => p.epoch)))].sort((a, b) => a - b);
  for (const epoch of epochs) {
    const points = runs.map((run) => run.epochs.find((p) => p.epoch === epoch));
    table += tableRow([String(epoch), ...TABLE_METRICS.flatMap((m) => points.map((p) => (p ? m.format(p[m.field]) : '–')))]);
  }
  const finals = runs.map((run) => run.tta.at(-1));
  if (finals.some(Boolean)) {
    const modes = [...new Set(finals.flatMap((t) => (t ? [t.mode] : [])))];
    const cells = (pick: (t: TtaPoint) => string) => finals.map((t) => (t ? pick(t) : '–'));
    table += tableRow([`with TTA (${modes.join(', ')})`, ...runs.map(() => ''), ...runs.map(() => ''), ...cells((t) => formatLoss(t.loss)), ...cells((t) => formatAccuracy(t.accuracy))]);
  }
  return table;
}
