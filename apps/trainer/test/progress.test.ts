import { formatSeconds, LineProgress } from '../src/progress';

describe('progress', () => {
  it.each([
    [0, '0s'],
    [59.4, '59s'],
    [59.6, '1m00s'],
    [119.6, '2m00s'],
    [120, '2m00s'],
    [61, '1m01s'],
    [3599.5, '1h00m00s'],
    [3723, '1h02m03s'],
    [Number.POSITIVE_INFINITY, '?'],
  ])('formats %d seconds as %s', (seconds, text) => {
    expect(formatSeconds(seconds)).toBe(text);
  });

  it('prints the ETA of the images left in the epoch at the measured rate', () => {
    const lines: string[] = [];
    const progress = new LineProgress((l) => lines.push(l));
    progress.setBatchImages(100);
    progress.startEpoch(0, 2, 10, 0);
    // 9 batches of 100 images left at 7.5 images/s: 120 s.
    progress.update({ epoch: 0, epochs: 2, stepInEpoch: 1, stepsInEpoch: 10, loss: 2.3, imagesPerSecond: 7.5 });
    expect(lines[1]).toMatch(/ETA 2m00s$/);
  });
});
