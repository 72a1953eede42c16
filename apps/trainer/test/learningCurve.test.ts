import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exitCodeOf, UsageError } from '../src/cli';
import { defaultRunLabels, learningCurveSvg, learningCurveTable, readRunCurve, type RunCurve } from '../src/learningCurve';
import { runCli } from './runCli';

const lines = (...records: object[]) => `${records.map((r) => JSON.stringify(r)).join('\n')}\n`;

/** An epoch record as convoy train writes it (NaN is null in JSON). */
function convoyEpoch(epoch: number, testAccuracy: number, extra: object = {}) {
  return {
    type: 'epoch', epoch, step: 48 * epoch, trainLoss: 2 - 0.3 * epoch, trainAccuracy: 0.2 + 0.1 * epoch, testLoss: 1.8 - 0.3 * epoch, testAccuracy,
    imagesPerSecond: 300, epochSeconds: 160, elapsed: 160 * epoch, peakRssMiB: 900, collapse: null, ...extra,
  };
}

/** An epoch record as tools/pytorch/train_model_file.py's --log writes it. */
function pytorchEpoch(epoch: number, testAccuracy: number) {
  return { type: 'epoch', epoch, steps: 48 * epoch, trainLoss: 1.9 - 0.3 * epoch, trainAccuracy: 0.25 + 0.1 * epoch, testLoss: 1.7 - 0.3 * epoch, testAccuracy, trainSeconds: 120 * epoch, complete: true };
}

/**
 * convoy's metrics log of a 3-epoch run resumed in its third epoch (epoch 3 appears twice; the
 * later line counts), TTA on the last epoch; and PyTorch's log of 2 epochs and a TTA pass.
 */
function writeLogs(dir = mkdtempSync(join(tmpdir(), 'convoy-curve-'))): { convoy: string; pytorch: string; dir: string } {
  mkdirSync(join(dir, 'cifar-fast'), { recursive: true });
  const convoy = join(dir, 'cifar-fast', 'metrics.jsonl');
  writeFileSync(convoy, lines(
    { type: 'start', step: 0, epoch: 0, resumed: false },
    { type: 'step', step: 1, epoch: 1, loss: 2.3, lr: 0.1, imagesPerSecond: 300, elapsed: 1 },
    convoyEpoch(1, 0.41),
    convoyEpoch(2, 0.52),
    convoyEpoch(3, 0.5),
    { type: 'start', step: 100, epoch: 2, resumed: true },
    convoyEpoch(3, 0.6, { tta: 'flip-translate', ttaTestLoss: 0.85, ttaTestAccuracy: 0.6234 }),
    { type: 'end', status: 'completed' },
  ));
  const pytorch = join(dir, 'pytorch-airbench.jsonl');
  writeFileSync(pytorch, lines(
    { type: 'start', model: 'models/airbench94.json', config: {}, parameters: 1000, torch: '1.13.0' },
    { type: 'step', step: 1, epoch: 1, loss: 2.3, lr: 0.1 },
    pytorchEpoch(1, 0.45),
    pytorchEpoch(2, 0.58),
    { type: 'end', steps: 96, completed: true, tta: 'flip-translate', ttaAccuracy: 0.6125, ttaLoss: 0.9, ttaSeconds: 30, wallSeconds: 300, processSeconds: 590 },
  ));
  return { convoy, pytorch, dir };
}

/** The polylines of an SVG: stroke colour, series name (its tooltip) and points. */
function polylines(svg: string): Array<{ color: string; name: string; points: Array<[number, number]> }> {
  return [...svg.matchAll(/<polyline [^>]*stroke="([^"]+)"[^>]* points="([^"]*)"><title>([^<]*)<\/title>/g)].map((m) => ({
    color: m[1],
    name: m[3],
    points: m[2].split(' ').map((p) => p.split(',').map(Number) as [number, number]),
  }));
}

/** Each diamond's centre and fill colour. */
function diamonds(svg: string): Array<{ x: number; y: number; color: string }> {
  return [...svg.matchAll(/<polygon points="([^"]+)" fill="([^"]+)"/g)].map((m) => {
    const [top, , bottom] = m[1].split(' ').map((p) => p.split(',').map(Number));
    return { x: top[0], y: (top[1] + bottom[1]) / 2, color: m[2] };
  });
}

describe('reading a run log', () => {
  it("reads convoy's metrics log: epoch records (the later line wins after a re-run part) and the last epoch's TTA score", () => {
    const { convoy } = writeLogs();
    const run = readRunCurve(convoy, 'convoy');
    expect(run.label).toBe('convoy');
    expect(run.epochs.map((p) => [p.epoch, p.testAccuracy])).toEqual([[1, 0.41], [2, 0.52], [3, 0.6]]);
    expect(run.epochs[0]).toEqual({ epoch: 1, trainLoss: expect.closeTo(1.7, 12), trainAccuracy: expect.closeTo(0.3, 12), testLoss: expect.closeTo(1.5, 12), testAccuracy: 0.41 });
    expect(run.tta).toEqual([{ epoch: 3, mode: 'flip-translate', accuracy: 0.6234, loss: 0.85 }]);
  });

  it("reads train_model_file.py's log: its TTA score is the end record's, at the last epoch", () => {
    const { pytorch, dir } = writeLogs();
    const run = readRunCurve(pytorch, 'pytorch');
    expect(run.epochs.map((p) => [p.epoch, p.trainLoss, p.testAccuracy])).toEqual([[1, expect.closeTo(1.6, 12), 0.45], [2, expect.closeTo(1.3, 12), 0.58]]);
    expect(run.tta).toEqual([{ epoch: 2, mode: 'flip-translate', accuracy: 0.6125, loss: 0.9 }]);
    const withoutTta = join(dir, 'no-tta.jsonl');
    writeFileSync(withoutTta, lines(pytorchEpoch(1, 0.45), { type: 'end', steps: 48, completed: true, wallSeconds: 150 }));
    expect(readRunCurve(withoutTta, 'x').tta).toEqual([]);
  });

  it('reads null (a run without a test set) as NaN', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'convoy-curve-')), 'metrics.jsonl');
    writeFileSync(file, lines(convoyEpoch(1, 0.4, { testLoss: null, testAccuracy: null })));
    const [point] = readRunCurve(file, 'x').epochs;
    expect(point.testAccuracy).toBeNaN();
    expect(point.testLoss).toBeNaN();
    expect(point.trainLoss).toBeCloseTo(1.7, 12);
  });

  it.each([
    ['bad.jsonl', '{"type":"start"}\n{oops\n', /\bbad\.jsonl:2: not a JSON line\b.*train_model_file\.py/],
    ['array.jsonl', '[1, 2]\n', /\barray\.jsonl:1: not a JSON line/],
    ['steps.jsonl', lines({ type: 'start' }, { type: 'step', step: 1, loss: 2 }), /\bsteps\.jsonl has no epoch records\b.*\bfinished at least one epoch\b/],
    ['empty.jsonl', '', /\bempty\.jsonl has no epoch records/],
    ['text.jsonl', lines(convoyEpoch(1, 0.4, { testAccuracy: '40%' })), /\btext\.jsonl:1: the epoch record's testAccuracy is "40%", not a number/],
    ['nofield.jsonl', lines({ type: 'epoch', epoch: 1, trainLoss: 1, trainAccuracy: 0.5, testLoss: 1 }), /\bnofield\.jsonl:1: .*testAccuracy is missing/],
    ['zero.jsonl', lines(convoyEpoch(0, 0.4)), /\bzero\.jsonl:1: the epoch record's epoch is 0, not a whole number from 1/],
  ])('refuses %s, naming the file (and line) and what it needs', (name, text, message) => {
    const file = join(mkdtempSync(join(tmpdir(), 'convoy-curve-')), name);
    writeFileSync(file, text);
    expect(() => readRunCurve(file, 'x')).toThrow(UsageError);
    expect(() => readRunCurve(file, 'x')).toThrow(message);
  });

  it('names a missing file, and the log inside a run folder given in its place', () => {
    const { dir } = writeLogs();
    expect(() => readRunCurve(join(dir, 'nope.jsonl'), 'x')).toThrow(/cannot read .*nope\.jsonl \(no such file\): give convoy train's metrics log/);
    expect(() => readRunCurve(join(dir, 'cifar-fast'), 'x')).toThrow(/cifar-fast is a folder, not a log: give its log, .*cifar-fast\/metrics\.jsonl/);
  });

  it("names a run after its log file, or its folder for convoy's metrics.jsonl, or its path where names clash", () => {
    expect(defaultRunLabels(['runs/cifar-fast/metrics.jsonl', 'runs/pytorch-airbench.jsonl'])).toEqual(['cifar-fast', 'pytorch-airbench']);
    expect(defaultRunLabels(['a/pytorch.jsonl', 'b/pytorch.jsonl', 'c/other.log'])).toEqual(['a/pytorch.jsonl', 'b/pytorch.jsonl', 'other']);
    expect(defaultRunLabels(['metrics.jsonl'], (p) => `/work/runs/seed-2/${p}`)).toEqual(['seed-2']);
  });
});

describe('learning-curve chart', () => {
  function twoRuns(): RunCurve[] {
    const { convoy, pytorch } = writeLogs();
    return [readRunCurve(convoy, 'convoy'), readRunCurve(pytorch, 'pytorch <1.13>')];
  }

  it('draws each run in its own colour: test and train accuracy and loss, its TTA score a diamond at its last epoch, and a legend with its name', () => {
    const runs = twoRuns();
    const svg = learningCurveSvg(runs);
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg).toContain('learning curve: convoy vs pytorch &lt;1.13&gt;');
    const lines = polylines(svg);
    expect(lines.map((l) => l.name)).toEqual([
      'convoy test accuracy', 'convoy train accuracy', 'pytorch &lt;1.13&gt; test accuracy', 'pytorch &lt;1.13&gt; train accuracy',
      'convoy test loss', 'convoy train loss', 'pytorch &lt;1.13&gt; test loss', 'pytorch &lt;1.13&gt; train loss',
    ]);
    const [convoyColor, pytorchColor] = [lines[0].color, lines[2].color];
    expect(convoyColor).not.toBe(pytorchColor);
    expect(lines.filter((l) => l.name.startsWith('convoy')).map((l) => l.color)).toEqual([convoyColor, convoyColor, convoyColor, convoyColor]);
    expect(lines.filter((l) => l.name.startsWith('pytorch')).map((l) => l.color)).toEqual([pytorchColor, pytorchColor, pytorchColor, pytorchColor]);
    expect(lines.map((l) => l.points.length)).toEqual([3, 3, 2, 2, 3, 3, 2, 2]);
    // train curves dashed, test curves solid
    expect((svg.match(/<polyline [^>]*stroke-dasharray/g) ?? []).length).toBe(4);

    // in the chart, one diamond per run at its last epoch (the legend's key has one more, in grey)
    const marks = diamonds(svg).filter((d) => d.color !== '#555');
    expect(marks.map((d) => d.color)).toEqual([convoyColor, pytorchColor]);
    // side by side (10 px apart) about the run's last epoch, so that equal scores stay visible
    expect(marks[0].x).toBeCloseTo(lines[0].points[2][0] - 5, 1);
    expect(marks[1].x).toBeCloseTo(lines[2].points[1][0] + 5, 1);
    // TTA above the plain test accuracy of the same epoch: a smaller y on the page
    expect(marks[0].y).toBeLessThan(lines[0].points[2][1]);
    expect(marks[1].y).toBeLessThan(lines[2].points[1][1]);

    const legend = [...svg.matchAll(/<text x="[^"]+" y="[^"]+" dominant-baseline="middle">([^<]*)<\/text>/g)].map((m) => m[1]);
    expect(legend).toEqual(['convoy (with TTA 62.34%)', 'pytorch &lt;1.13&gt; (with TTA 61.25%)', 'test', 'train (running, augmented)', 'test with TTA']);
    expect(learningCurveSvg(runs, 'my title')).toContain('>my title</text>');
  });

  it('charts a single run as before, with loss beside accuracy and no TTA key when there is no TTA score', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'convoy-curve-')), 'run.jsonl');
    writeFileSync(file, lines(convoyEpoch(1, 0.3), convoyEpoch(2, 0.45)));
    const svg = learningCurveSvg([readRunCurve(file, 'run')]);
    expect(polylines(svg).map((l) => l.name)).toEqual(['run test accuracy', 'run train accuracy', 'run test loss', 'run train loss']);
    expect((svg.match(/<circle /g) ?? []).length).toBe(8);
    expect(svg).not.toContain('<polygon');
    expect(svg).not.toContain('test with TTA');
  });
});

describe('learning-curve table', () => {
  it("has a row per epoch with each run's numbers side by side, '–' past a run's last epoch, and a last row with the TTA scores", () => {
    const { convoy, pytorch } = writeLogs();
    const table = learningCurveTable([readRunCurve(convoy, 'convoy'), readRunCurve(pytorch, 'pytorch')]).trimEnd().split('\n');
    expect(table).toEqual([
      '| epoch | convoy train loss | pytorch train loss | convoy train acc | pytorch train acc | convoy test loss | pytorch test loss | convoy test acc | pytorch test acc |',
      '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
      '| 1 | 1.7000 | 1.6000 | 30.00% | 35.00% | 1.5000 | 1.4000 | 41.00% | 45.00% |',
      '| 2 | 1.4000 | 1.3000 | 40.00% | 45.00% | 1.2000 | 1.1000 | 52.00% | 58.00% |',
      '| 3 | 1.1000 | – | 50.00% | – | 0.9000 | – | 60.00% | – |',
      '| with TTA (flip-translate) |  |  |  |  | 0.8500 | 0.9000 | 62.34% | 61.25% |',
    ]);
  });

  it("keeps a single run's columns unprefixed, writes '–' for what was not measured, and leaves out the TTA row when no run has one", () => {
    const dir = mkdtempSync(join(tmpdir(), 'convoy-curve-'));
    const file = join(dir, 'metrics.jsonl');
    writeFileSync(file, lines(convoyEpoch(1, 0.4, { testLoss: null, testAccuracy: null })));
    expect(learningCurveTable([readRunCurve(file, 'a|b')])).toBe(
      '| epoch | train loss | train acc | test loss | test acc |\n| ---: | ---: | ---: | ---: | ---: |\n| 1 | 1.7000 | 30.00% | – | – |\n',
    );
    const two = learningCurveTable([readRunCurve(file, 'a|b'), readRunCurve(file, 'c')]);
    expect(two.split('\n')[0]).toContain('| a\\|b train loss | c train loss |');
    expect(two).not.toContain('TTA');
  });
});

describe('convoy curve', () => {
  it('writes one chart of several logs with their --label names and prints the table', async () => {
    const { convoy, pytorch, dir } = writeLogs();
    const svgPath = join(dir, 'charts', 'curve.svg');
    const { out, error } = await runCli(['curve', convoy, pytorch, '--label', 'convoy', '--label', 'pytorch', '--svg', svgPath]);
    expect(error).toBeNull();
    const svg = readFileSync(svgPath, 'utf8');
    expect(polylines(svg).map((l) => l.name)).toContain('pytorch test accuracy');
    expect(svg).toContain('>convoy (with TTA 62.34%)</text>');
    expect(out).toContain('| 2 | 1.4000 | 1.3000 | 40.00% | 45.00% | 1.2000 | 1.1000 | 52.00% | 58.00% |\n');
    expect(out).toContain('| with TTA (flip-translate) |  |  |  |  | 0.8500 | 0.9000 | 62.34% | 61.25% |\n');
    expect(out.endsWith(`chart: ${svgPath}\n`)).toBe(true);
  });

  it('names runs after their logs without --label, and a single log gives the single-run table', async () => {
    const { convoy, pytorch, dir } = writeLogs();
    const svgPath = join(dir, 'curve.svg');
    expect((await runCli(['curve', convoy, pytorch, '--label', 'ours', '--svg', svgPath])).out).toMatch(/^\| epoch \| ours train loss \| pytorch-airbench train loss \|/);
    const single = await runCli(['curve', convoy, '--svg', svgPath]);
    expect(single.out).toMatch(/^\| epoch \| train loss \| train acc \| test loss \| test acc \|\n/);
    expect(readFileSync(svgPath, 'utf8')).toContain('learning curve: cifar-fast</text>');
  });

  it.each([
    [['--label', 'a', '--label', 'b', '--label', 'c'], /3 --label for 2 logs: give at most one --label per log/],
    [['--label', ''], /--label is empty/],
  ])('refuses %j with two logs', async (flags, message) => {
    const { convoy, pytorch, dir } = writeLogs();
    const { error } = await runCli(['curve', convoy, pytorch, ...flags, '--svg', join(dir, 'c.svg')]);
    expect(error).toBeInstanceOf(UsageError);
    expect(exitCodeOf(error)).toBe(2);
    expect((error as Error).message).toMatch(message);
    expect(existsSync(join(dir, 'c.svg'))).toBe(false);
  });

  it('refuses a missing log or one without epochs, writing no chart, and will not write the chart over a log', async () => {
    const { convoy, dir } = writeLogs();
    const svgPath = join(dir, 'c.svg');
    const missing = await runCli(['curve', convoy, join(dir, 'missing.jsonl'), '--svg', svgPath]);
    expect(exitCodeOf(missing.error)).toBe(2);
    expect((missing.error as Error).message).toMatch(/missing\.jsonl \(no such file\)/);
    const steps = join(dir, 'steps.jsonl');
    writeFileSync(steps, lines({ type: 'step', step: 1, loss: 2 }));
    const empty = await runCli(['curve', convoy, steps, '--svg', svgPath]);
    expect((empty.error as Error).message).toMatch(/steps\.jsonl has no epoch records/);
    expect(existsSync(svgPath)).toBe(false);
    const before = readFileSync(convoy, 'utf8');
    const over = await runCli(['curve', convoy, '--svg', convoy]);
    expect((over.error as Error).message).toMatch(/--svg .*metrics\.jsonl is the log .*: .*give another file/);
    expect(readFileSync(convoy, 'utf8')).toBe(before);
  });

  it('tells the truth in --help: several logs, --label, both log formats', async () => {
    const { out } = await runCli(['curve', '--help']);
    const compact = out.replace(/\s+/g, ' ');
    expect(compact).toMatch(/Usage: convoy curve \[options\] <logs\.\.\.>/);
    expect(compact).toContain("--label <name> a run's name in the legend and the table, once per log in the logs' order (default: the log's file name, or its folder's for metrics.jsonl)");
    expect(compact).toContain('train_model_file.py');
    expect(compact).toContain('--label convoy --label pytorch');
  });
});
