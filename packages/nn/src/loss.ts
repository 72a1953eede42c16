import { formatShape, Tensor } from '@convoy/tensor';

export type LossReduction = 'mean' | 'sum';

export interface SoftmaxCrossEntropyOptions {
  /**
   * Label smoothing eps in [0, 1), as torch.nn.CrossEntropyLoss(label_smoothing=eps): the target of
   * each row is (1 - eps) on its label plus eps / classes on every class. Default 0 (plain cross-entropy).
   */
  labelSmoothing?: number;
}

export interface SoftmaxCrossEntropyResult {
  /** Mean (or sum) over the batch of the cross-entropy against the (smoothed) target: -log softmax(logits)[label] when not smoothed. */
  loss: number;
  /** d loss / d logits, same shape as the logits. */
  gradLogits: Tensor;
  /** How many rows have their largest logit at the label (first maximum on ties). */
  correct: number;
}

/**
 * Softmax cross-entropy on logits [N, C] and integer labels, as torch.nn.functional.cross_entropy
 * (with its label_smoothing: the loss of row i is (1 - eps) * -log p[label] + eps / C * sum_c -log p[c]).
 * Stable: each row is shifted by its maximum before exp, and the loss is accumulated in double.
 * `reduction: 'sum'` is what data-parallel workers use: the coordinator divides the summed gradient
 * by the global batch. Pass `gradLogits` to write the gradient into a reused tensor (no allocation).
 */
export function softmaxCrossEntropy(
  logits: Tensor,
  labels: ArrayLike<number>,
  reduction: LossReduction = 'mean',
  gradLogits?: Tensor,
  options: SoftmaxCrossEntropyOptions = {},
): SoftmaxCrossEntropyResult {
  const smoothing = options.labelSmoothing ?? 0;
  if (!(smoothing >= 0 && smoothing < 1)) {
    throw new RangeError(`softmaxCrossEntropy: labelSmoothing must be in [0, 1), got ${smoothing}`);
  }
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
    let sumShifted = 0;
    for (let c = 0; c < classes; c++) {
      sumExp += Math.exp(x[base + c] - max);
      sumShifted += x[base + c] - max;
    }
    const logSumExp = Math.log(sumExp);
    const labelLoss = logSumExp - (x[base + label] - max);
    // -log p[c] summed over the classes is C * logSumExp - sum_c (x[c] - max). Skipped at eps 0 so
    // plain cross-entropy keeps exactly the numbers it had.
    total += smoothing === 0 ? labelLoss : (1 - smoothing) * labelLoss + (smoothing / classes) * (classes * logSumExp - sumShifted);
    // d/dx[c] = p[c] - target[c], target = (1 - eps) * onehot + eps / C.
    const offLabel = smoothing / classes;
    const onLabel = 1 - smoothing + offLabel;
    const inverse = 1 / sumExp;
    for (let c = 0; c < classes; c++) {
      const p = Math.exp(x[base + c] - max) * inverse;
      g[base + c] = (smoothing === 0 ? (c === label ? p - 1 : p) : p - (c === label ? onLabel : offLabel)) * scale;
    }
  }
  return { loss: total * scale, gradLogits: grad, correct };
}
