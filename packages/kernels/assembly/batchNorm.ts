// Batch normalisation per ghost group and channel (src/reference/batchNorm.ts is the oracle; the
// contract is KernelBackend's batchNormForward/batchNormBackward). Channel by channel, a group's
// planes are read twice in a row (sums, then the output pass), so the second read hits the cache.
// Sums are float32x4 within one plane and float64 across planes.

import { maskBits, reluBits } from './epilogue';

@inline
function lanes(v: v128): f64 {
  return <f64>f32x4.extract_lane(v, 0) + <f64>f32x4.extract_lane(v, 1) + <f64>f32x4.extract_lane(v, 2) + <f64>f32x4.extract_lane(v, 3);
}

@inline
function planeAt(base: usize, image: i32, channels: i32, channel: i32, planeSize: i32): usize {
  return base + (<usize>((image * channels + channel) * planeSize) << 2);
}

/** KernelBackend.batchNormForward; weight and bias 0 when absent. */
export function batchNormForward(
  x: usize, weight: usize, bias: usize, eps: f64, mean: usize, variance: usize, out: usize,
  batch: i32, channels: i32, planeSize: i32, groupSize: i32, training: bool, relu: bool,
): void {
  const size = training ? groupSize : batch;
  const groups = (batch + size - 1) / size;
  for (let grp = 0; grp < groups; grp++) {
    const first = grp * size;
    const last = min(batch, first + size);
    const count = <f64>((last - first) * planeSize);
    for (let ch = 0; ch < channels; ch++) {
      const stat = <usize>(training ? grp * channels + ch : ch) << 2;
      if (training) {
        // shifted by the channel's first value in the group, so that q/count − m² does not cancel
        const shift = load<f32>(planeAt(x, first, channels, ch, planeSize));
        const sv = f32x4.splat(shift);
        let s: f64 = 0;
        let q: f64 = 0;
        for (let i = first; i < last; i++) {
          const p = planeAt(x, i, channels, ch, planeSize);
          let vs = f32x4.splat(0);
          let vq = f32x4.splat(0);
          let k = 0;
          for (; k + 4 <= planeSize; k += 4) {
            const d = f32x4.sub(v128.load(p + (<usize>k << 2)), sv);
            vs = f32x4.add(vs, d);
            vq = f32x4.add(vq, f32x4.mul(d, d));
          }
          let ts: f32 = 0;
          let tq: f32 = 0;
          for (; k < planeSize; k++) {
            const d = load<f32>(p + (<usize>k << 2)) - shift;
            ts += d;
            tq += d * d;
          }
          s += lanes(vs) + <f64>ts;
          q += lanes(vq) + <f64>tq;
        }
        const m = s / count;
        store<f32>(mean + stat, <f32>(<f64>shift + m));
        store<f32>(variance + stat, <f32>max<f64>(0, q / count - m * m));
      }
      const scale64 = (1 / Math.sqrt(<f64>load<f32>(variance + stat) + eps)) * (weight ? <f64>load<f32>(weight + (<usize>ch << 2)) : 1);
      const offset64 = (bias ? <f64>load<f32>(bias + (<usize>ch << 2)) : 0) - <f64>load<f32>(mean + stat) * scale64;
      const scale = <f32>scale64;
      const offset = <f32>offset64;
      const sv = f32x4.splat(scale);
      const ov = f32x4.splat(offset);
      for (let i = first; i < last; i++) {
        const p = planeAt(x, i, channels, ch, planeSize);
        const o = planeAt(out, i, channels, ch, planeSize);
        let k = 0;
        if (relu) {
          for (; k + 4 <= planeSize; k += 4) {
            const at = <usize>k << 2;
            v128.store(o + at, reluBits(f32x4.add(f32x4.mul(v128.load(p + at), sv), ov)));
          }
        } else {
          for (; k + 4 <= planeSize; k += 4) {
            const at = <usize>k << 2;
            v128.store(o + at, f32x4.add(f32x4.mul(v128.load(p + at), sv), ov));
          }
        }
        for (; k < planeSize; k++) {
          const at = <usize>k << 2;
          const y = load<f32>(p + at) * scale + offset;
          store<f32>(o + at, relu ? max<f32>(y, 0) : y);
        }
      }
    }
  }
}

/** KernelBackend.batchNormBackward; reluOut, weight, gradWeight and gradBias 0 when absent. */
export function batchNormBackward(
  x: usize, dy: usize, reluOut: usize, weight: usize, eps: f64, mean: usize, variance: usize, dx: usize, gradWeight: usize, gradBias: usize,
  batch: i32, channels: i32, planeSize: i32, groupSize: i32, training: bool,
): void {
  const size = training ? groupSize : batch;
  const groups = (batch + size - 1) / size;
  for (let ch = 0; ch < channels; ch++) {
    if (gradWeight) store<f32>(gradWeight + (<usize>ch << 2), 0);
    if (gradBias) store<f32>(gradBias + (<usize>ch << 2), 0);
  }
  for (let grp = 0; grp < groups; grp++) {
    const first = grp * size;
    const last = min(batch, first + size);
    const count = <f64>((last - first) * planeSize);
    for (let ch = 0; ch < channels; ch++) {
      const stat = <usize>(training ? grp * channels + ch : ch) << 2;
      const mu = load<f32>(mean + stat);
      const invStd = 1 / Math.sqrt(<f64>load<f32>(variance + stat) + eps);
      const mv = f32x4.splat(mu);
      let sumDy: f64 = 0;
      let sumDyXc: f64 = 0;
      for (let i = first; i < last; i++) {
        const p = planeAt(x, i, channels, ch, planeSize);
        const g = planeAt(dy, i, channels, ch, planeSize);
        const r = reluOut ? planeAt(reluOut, i, channels, ch, planeSize) : 0;
        let vs = f32x4.splat(0);
        let vx = f32x4.splat(0);
        let k = 0;
        for (; k + 4 <= planeSize; k += 4) {
          const at = <usize>k << 2;
          let d = v128.load(g + at);
          if (r) d = maskBits(d, v128.load(r + at));
          vs = f32x4.add(vs, d);
          vx = f32x4.add(vx, f32x4.mul(d, f32x4.sub(v128.load(p + at), mv)));
        }
        let ts: f32 = 0;
        let tx: f32 = 0;
        for (; k < planeSize; k++) {
          const at = <usize>k << 2;
          const d = r && load<i32>(r + at) == 0 ? <f32>0 : load<f32>(g + at);
          ts += d;
          tx += d * (load<f32>(p + at) - mu);
        }
        sumDy += lanes(vs) + <f64>ts;
        sumDyXc += lanes(vx) + <f64>tx;
      }
      const sumDyXhat = sumDyXc * invStd;
      if (gradWeight) {
        const at = gradWeight + (<usize>ch << 2);
        store<f32>(at, <f32>(<f64>load<f32>(at) + sumDyXhat));
      }
      if (gradBias) {
        const at = gradBias + (<usize>ch << 2);
        store<f32>(at, <f32>(<f64>load<f32>(at) + sumDy));
      }
      const a64 = (weight ? <f64>load<f32>(weight + (<usize>ch << 2)) : 1) * invStd;
      const a = <f32>a64;
      const b = training ? <f32>((-a64 * sumDyXhat * invStd) / count) : <f32>0;
      const c0 = training ? <f32>((-a64 * sumDy) / count) : <f32>0;
      const av = f32x4.splat(a);
      const bv = f32x4.splat(b);
      const cv = f32x4.splat(c0);
      for (let i = first; i < last; i++) {
        const p = planeAt(x, i, channels, ch, planeSize);
        const g = planeAt(dy, i, channels, ch, planeSize);
        const o = planeAt(dx, i, channels, ch, planeSize);
        const r = reluOut ? planeAt(reluOut, i, channels, ch, planeSize) : 0;
        let k = 0;
        for (; k + 4 <= planeSize; k += 4) {
          const at = <usize>k << 2;
          let d = v128.load(g + at);
          if (r) d = maskBits(d, v128.load(r + at));
          v128.store(o + at, f32x4.add(f32x4.add(f32x4.mul(av, d), f32x4.mul(bv, f32x4.sub(v128.load(p + at), mv))), cv));
        }
        for (; k < planeSize; k++) {
          const at = <usize>k << 2;
          const d = r && load<i32>(r + at) == 0 ? <f32>0 : load<f32>(g + at);
          store<f32>(o + at, a * d + b * (load<f32>(p + at) - mu) + c0);
        }
      }
    }
  }
}
