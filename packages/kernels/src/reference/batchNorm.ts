import type { ConvEpilogue } from '../backend';
import { batchNormGroups, type BatchNormGeometry } from '../shapes';

/**
 * Calls `visit(ch, stat, first, last, count)` for each channel of each ghost group of a call (in
 * eval, one group: the whole batch): the group's images are [first, last), `count` values per
 * channel, and its statistics sit at index `stat` of mean and variance.
 */
function forEachGroupChannel(
  g: BatchNormGeometry, training: boolean, visit: (ch: number, stat: number, first: number, last: number, count: number) => void,
): void {
  const groupSize = training ? g.groupSize : g.batch;
  const groups = training ? batchNormGroups(g) : 1;
  for (let grp = 0; grp < groups; grp++) {
    const first = grp * groupSize;
    const last = Math.min(g.batch, first + groupSize);
    for (let ch = 0; ch < g.channels; ch++) visit(ch, training ? grp * g.channels + ch : ch, first, last, (last - first) * g.planeSize);
  }
}

/**
 * batchNormForward in plain TS (the oracle of the SIMD versions). Both moments in one pass over
 * values shifted by the channel's first value in the group, so that the sum of squares minus the
 * squared sum does not cancel when the mean is large; float64 sums.
 */
export function batchNormForward(
  g: BatchNormGeometry, input: Float32Array, weight: Float32Array | null, bias: Float32Array | null, eps: number,
  mean: Float32Array, variance: Float32Array, output: Float32Array, training: boolean, epilogue?: ConvEpilogue,
): void {
  const { channels: c, planeSize: hw } = g;
  const relu = epilogue?.relu ?? false;
  forEachGroupChannel(g, training, (ch, stat, first, last, count) => {
    if (training) {
      const shift = input[(first * c + ch) * hw];
      let s = 0;
      let q = 0;
      for (let i = first; i < last; i++) {
        const base = (i * c + ch) * hw;
        for (let k = 0; k < hw; k++) {
          const d = input[base + k] - shift;
          s += d;
          q += d * d;
        }
      }
      const m = s / count;
      mean[stat] = shift + m;
      variance[stat] = Math.max(0, q / count - m * m);
    }
    const scale = (1 / Math.sqrt(variance[stat] + eps)) * (weight ? weight[ch] : 1);
    const offset = (bias ? bias[ch] : 0) - mean[stat] * scale;
    for (let i = first; i < last; i++) {
      const base = (i * c + ch) * hw;
      // Math.max gives +0 for -0 and keeps NaN, as the ReLU on the float bits.
      if (relu) for (let k = 0; k < hw; k++) output[base + k] = Math.max(input[base + k] * scale + offset, 0);
      else for (let k = 0; k < hw; k++) output[base + k] = input[base + k] * scale + offset;
    }
  });
}

/**
 * batchNormBackward in plain TS. With dy masked by the fused ReLU and x̂ = (x − mean)·invStd, per
 * group of m values: dx = gamma·invStd/m · (m·dy − Σdy − x̂·Σ(dy·x̂)) = a·dy + b·(x − mean) + c0
 * (training), or gamma·invStd·dy (eval).
 */
export function batchNormBackward(
  g: BatchNormGeometry, input: Float32Array, gradOutput: Float32Array, reluOutput: Float32Array | null,
  weight: Float32Array | null, eps: number, mean: Float32Array, variance: Float32Array, training: boolean,
  gradInput: Float32Array, gradWeight: Float32Array | null, gradBias: Float32Array | null,
): void {
  const { channels: c, planeSize: hw } = g;
  gradWeight?.fill(0, 0, c);
  gradBias?.fill(0, 0, c);
  const dyAt = (at: number): number => (reluOutput && reluOutput[at] === 0 ? 0 : gradOutput[at]);
  forEachGroupChannel(g, training, (ch, stat, first, last, count) => {
    const mu = mean[stat];
    const invStd = 1 / Math.sqrt(variance[stat] + eps);
    let sumDy = 0;
    let sumDyXc = 0;
    for (let i = first; i < last; i++) {
      const base = (i * c + ch) * hw;
      for (let k = 0; k < hw; k++) {
        const d = dyAt(base + k);
        sumDy += d;
        sumDyXc += d * (input[base + k] - mu);
      }
    }
    const sumDyXhat = sumDyXc * invStd;
    if (gradWeight) gradWeight[ch] += sumDyXhat;
    if (gradBias) gradBias[ch] += sumDy;
    const gamma = weight ? weight[ch] : 1;
    const a = gamma * invStd;
    const b = training ? (-a * sumDyXhat * invStd) / count : 0;
    const c0 = training ? (-a * sumDy) / count : 0;
    for (let i = first; i < last; i++) {
      const base = (i * c + ch) * hw;
      for (let k = 0; k < hw; k++) gradInput[base + k] = a * dyAt(base + k) + b * (input[base + k] - mu) + c0;
    }
  });
}
