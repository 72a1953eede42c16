import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tensor } from '@convoy/tensor';
import { softmaxCrossEntropy } from '../src';

function reference(logits: number[][], labels: number[]): { loss: number; grad: number[][] } {
  // direct float64 formula, no max shift: fine for these moderate logits
  let loss = 0;
  const grad = logits.map((row, i) => {
    const exps = row.map(Math.exp);
    const z = exps.reduce((a, b) => a + b, 0);
    loss += -Math.log(exps[labels[i]] / z);
    return exps.map((e, c) => (e / z - (c === labels[i] ? 1 : 0)) / logits.length);
  });
  return { loss: loss / logits.length, grad };
}

/** Every logit's gradient equals the mean loss's central difference (step 1e-3) to 4 decimals. */
function expectCentralDifferences(rows: number[][], labels: number[], gradLogits: Tensor, options?: { labelSmoothing: number }): void {
  const shape = [rows.length, rows[0].length];
  const lossAt = (values: number[]) => softmaxCrossEntropy(Tensor.from(values, shape), labels, 'mean', undefined, options).loss;
  const h = 1e-3;
  for (let k = 0; k < shape[0] * shape[1]; k++) {
    const plus = rows.flat();
    const minus = rows.flat();
    plus[k] += h;
    minus[k] -= h;
    expect(gradLogits.data[k]).toBeCloseTo((lossAt(plus) - lossAt(minus)) / (2 * h), 4);
  }
}

describe('softmaxCrossEntropy', () => {
  const rows = [[1, 2, 0.5], [-1, 0, 3], [0.2, 0.2, 0.1]];
  const labels = [1, 0, 2];
  const logits = Tensor.from(rows.flat(), [3, 3]);

  it('matches the textbook formula (mean) and counts correct predictions', () => {
    const { loss, gradLogits, correct } = softmaxCrossEntropy(logits, labels);
    const ref = reference(rows, labels);
    expect(loss).toBeCloseTo(ref.loss, 6);
    ref.grad.flat().forEach((g, i) => expect(gradLogits.data[i]).toBeCloseTo(g, 6));
    expect(correct).toBe(1); // row 0 predicts 1 (right); row 1 predicts 2; row 2 ties 0/1, first wins: 0
  });

  it("'sum' is batch times 'mean', for loss and gradient", () => {
    const mean = softmaxCrossEntropy(logits, labels, 'mean');
    const sum = softmaxCrossEntropy(logits, labels, 'sum');
    expect(sum.loss).toBeCloseTo(3 * mean.loss, 10);
    sum.gradLogits.data.forEach((g, i) => expect(g).toBeCloseTo(3 * mean.gradLogits.data[i], 6));
  });

  it('is stable for huge logits', () => {
    const { loss, gradLogits } = softmaxCrossEntropy(Tensor.from([1000, 0, -1000, 1e30, 1e30, 0], [2, 3]), [1, 0]);
    expect(Number.isFinite(loss)).toBe(true);
    expect(loss).toBeCloseTo((1000 + Math.log(2)) / 2, 6);
    expect(Array.from(gradLogits.data).every(Number.isFinite)).toBe(true);
  });

  it('gradient rows sum to zero and match central differences', () => {
    const { gradLogits } = softmaxCrossEntropy(logits, labels);
    for (let i = 0; i < 3; i++) expect(gradLogits.data[i * 3] + gradLogits.data[i * 3 + 1] + gradLogits.data[i * 3 + 2]).toBeCloseTo(0, 7);
    expectCentralDifferences(rows, labels, gradLogits);
  });

  it('writes into a given gradient tensor', () => {
    const out = Tensor.zeros([3, 3]);
    expect(softmaxCrossEntropy(logits, labels, 'mean', out).gradLogits).toBe(out);
  });

  it('rejects bad labels, shapes, reductions and non-finite logits', () => {
    expect(() => softmaxCrossEntropy(logits, [1, 0])).toThrow(/^softmaxCrossEntropy: 2 labels .*\b3\b/);
    expect(() => softmaxCrossEntropy(logits, [1, 0, 3])).toThrow(/^softmaxCrossEntropy: label 2 is 3\b.*\[0, 3\)/);
    expect(() => softmaxCrossEntropy(logits, [1, 0, 0.5])).toThrow(/^softmaxCrossEntropy: label 2 is 0\.5\b.*\[0, 3\)/);
    expect(() => softmaxCrossEntropy(Tensor.zeros([3]), [0, 0, 0])).toThrow(/^softmaxCrossEntropy: .*\[N, classes\].*\[3\]$/);
    expect(() => softmaxCrossEntropy(logits, labels, 'max' as never)).toThrow(/^softmaxCrossEntropy: reduction .*'mean'.*'sum'.*"max"$/);
    expect(() => softmaxCrossEntropy(Tensor.from([0, NaN], [1, 2]), [0])).toThrow(/^softmaxCrossEntropy: logit \[0, 1\] is NaN\b.*learning rate/);
  });
});

interface LabelSmoothingFixture {
  shape: [number, number];
  logits: number[];
  labels: number[];
  cases: Array<{ labelSmoothing: number; mean: number; sum: number; gradMean: number[] }>;
}

describe('softmaxCrossEntropy with label smoothing', () => {
  // tools/pytorch/make_loss_fixture.py: torch.nn.CrossEntropyLoss(label_smoothing=eps) in float64.
  const fixture = JSON.parse(readFileSync(join(__dirname, 'fixtures', 'loss-label-smoothing.json'), 'utf8')) as LabelSmoothingFixture;
  const logits = Tensor.from(fixture.logits, fixture.shape);

  it.each(fixture.cases.map((c) => [c.labelSmoothing, c] as const))('matches PyTorch at eps %s (mean and sum loss, gradient of the mean)', (eps, expected) => {
    const mean = softmaxCrossEntropy(logits, fixture.labels, 'mean', undefined, { labelSmoothing: eps });
    const sum = softmaxCrossEntropy(logits, fixture.labels, 'sum', undefined, { labelSmoothing: eps });
    expect(Math.abs(mean.loss - expected.mean)).toBeLessThan(1e-9 * Math.max(1, Math.abs(expected.mean)));
    expect(Math.abs(sum.loss - expected.sum)).toBeLessThan(1e-9 * Math.max(1, Math.abs(expected.sum)));
    expected.gradMean.forEach((g, i) => expect(Math.abs(mean.gradLogits.data[i] - g)).toBeLessThan(1e-7));
    expect(mean.correct).toBe(softmaxCrossEntropy(logits, fixture.labels).correct);
  });

  it('eps 0 gives exactly the plain loss and gradient', () => {
    const plain = softmaxCrossEntropy(logits, fixture.labels);
    const zero = softmaxCrossEntropy(logits, fixture.labels, 'mean', undefined, { labelSmoothing: 0 });
    expect(zero.loss).toBe(plain.loss);
    expect(Array.from(zero.gradLogits.data)).toEqual(Array.from(plain.gradLogits.data));
  });

  it('its gradient matches central differences', () => {
    const rows = [[1, 2, 0.5, -1], [-1, 0, 3, 0.25], [0.2, 0.2, 0.1, 2]];
    const labels = [1, 0, 3];
    const options = { labelSmoothing: 0.3 };
    const { gradLogits } = softmaxCrossEntropy(Tensor.from(rows.flat(), [3, 4]), labels, 'mean', undefined, options);
    expectCentralDifferences(rows, labels, gradLogits, options);
  });

  it.each([-0.1, 1, 1.5, NaN])('rejects eps %s', (eps) => {
    expect(() => softmaxCrossEntropy(logits, fixture.labels, 'mean', undefined, { labelSmoothing: eps })).toThrow(/^softmaxCrossEntropy: labelSmoothing must be in \[0, 1\)/);
  });
});
