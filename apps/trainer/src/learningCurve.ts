import { readFileSync } from 'node:fs';
import { lineChartSvg } from './svgChart';

export interface EpochPoint {
  epoch: number;
  trainLoss: number;
  trainAccuracy: number;
  testLoss: number;
  testAccuracy: number;
}

/**
 * The per-epoch records of a metrics log. A resumed run appends to the same file; if an epoch
 * appears twice (a part that was re-run), the later line wins.
 */
export function readEpochRecords(logPath: string): EpochPoint[] {
  const byEpoch = new Map<number, EpochPoint>();
  readFileSync(logPath, 'utf8')
    .split('\n')
    .forEach((line, i) => {
      if (line.trim() === '') return;
      let record: Record<string, unknown>;
      try {
        record = JSON.parse(line) as Record<string, unknown>;
      } catch {
        throw new Error(`${logPath}:${i + 1}: not a JSON line`);
      }
      if (record.type === 'epoch') byEpoch.set(record.epoch as number, record as unknown as EpochPoint);
    });
  return [...byEpoch.values()].sort((a, b) => a.epoch - b.epoch);
}

/** Test and train accuracy (%) per epoch as an SVG chart. */
export function learningCurveSvg(points: EpochPoint[], title = 'convoy: CIFAR-10 learning curve'): string {
  return lineChartSvg({
    title,
    xLabel: 'epoch',
    yLabel: 'accuracy (%)',
    xTicks: points.map((p) => p.epoch),
    series: [
      { name: 'test accuracy', points: points.map((p) => [p.epoch, 100 * p.testAccuracy]) },
      { name: 'train accuracy (augmented, running)', points: points.map((p) => [p.epoch, 100 * p.trainAccuracy]) },
    ],
  });
}
