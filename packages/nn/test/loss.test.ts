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
    const eps = 1e-3;
    for (let k = 0; k < 9; k++) {
      const plus = rows.flat();
      const minus = rows.flat();
      plus[k] += eps;
      minus[k] -= eps;
      const lp = softmaxCrossEntropy(Tensor.from(plus, [3, 3]), labels).loss;
      const lm = softmaxCrossEntropy(Tensor.from(minus, [3, 3]), labels).loss;
      expect(gradLogits.data[k]).toBeCloseTo((lp - lm) / (2 * eps), 4);
    }
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
