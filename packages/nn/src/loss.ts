import { formatShape, Tensor } from '@convoy/tensor';

export type LossReduction = 'mean' | 'sum';

export interface SoftmaxCrossEntropyResult {
  /** Mean (or sum) over the batch of -log softmax(logits)[label]. */
  loss: number;
  /** d loss / d logits, same shape as the logits. */
  gradLogits: Tensor;
  /** How many rows have their largest logit at the label (first maximum on ties). */
  correct: number;
}

/**
 * Softmax cross-entropy on logits [N, C] and integer labels, as torch.nn.functional.cross_entropy.
 * Stable: each row is shifted by its maximum before exp, and the loss is accumulated in double.
 * `reduction: 'sum'` is what data-parallel workers use: the coordinator divides the summed gradient
 * by the global batch. Pass `gradLogits` to write the gradient into a reused tensor (no allocation).
 */
export function softmaxCrossEntropy(
  logits: Tensor,
  labels: ArrayLike<number>,
  reduction: LossReduction = 'mean',
  gradLogits?: Tensor,
): SoftmaxCrossEntropyResult {
  if (logits.shape.length !== 2 || logits.shape[0] < 1 || logits.shape[1] < 1) {
    throw new RangeError(`softmaxCrossEntropy: expected logits of shape [N, classes], got ${formatShape(logits.shape)}`);
  }
  const [n, classes] = logits.shape;
  if (labels.length !== n) {
    throw new RangeError(`softmaxCrossEntropy: ${labels.length} labels for a batch of ${n} logits rows; expected one label per row`);
  }
  if (reduction !== 'mean' && reduction !== 'sum') {
    throw new RangeError(`softmaxCrossEntropy: reduction must be 'mean' or 'sum', got ${JSON.stringify(reduction)}`);
  }
  const grad = gradLogits ?? Tensor.zeros(logits.shape);
  if (grad.size !== logits.size) {
    throw new RangeError(`softmaxCrossEntropy: gradLogits must have shape ${formatShape(logits.shape)}, got ${formatShape(grad.shape)}`);
  }
  const scale = reduction === 'mean' ? 1 / n : 1;
  const x = logits.data;
  const g = grad.data;
  let total = 0;
  let correct = 0;
  for (let i = 0; i < n; i++) {
    const label = labels[i];
    if (!Number.isInteger(label) || label < 0 || label >= classes) {
      throw new RangeError(`softmaxCrossEntropy: label ${i} is ${label}; expected an integer in [0, ${classes})`);
    }
    const base = i * classes;
    let max = -Infinity;
    let argmax = 0;
    for (let c = 0; c < classes; c++) {
      const v = x[base + c];
      if (Number.isNaN(v) || v === Infinity || v === -Infinity) {
        throw new RangeError(`softmaxCrossEntropy: logit [${i}, ${c}] is ${v}; the forward pass produced non-finite values (training diverged? lower the learning rate)`);
      }
      if (v > max) {
        max = v;
        argmax = c;
      }
    }
    if (argmax === label) correct++;
    // Work relative to the row maximum: exp never overflows, and the loss
    // log(sum exp(x - max)) - (x[label] - max) keeps its digits even when |max| is huge.
    let sumExp = 0;
    for (let c = 0; c < classes; c++) sumExp += Math.exp(x[base + c] - max);
    total += Math.log(sumExp) - (x[base + label] - max);
    const inverse = 1 / sumExp;
    for (let c = 0; c < classes; c++) {
      const p = Math.exp(x[base + c] - max) * inverse;
      g[base + c] = (c === label ? p - 1 : p) * scale;
    }
  }
  return { loss: total * scale, gradLogits: grad, correct };
}
