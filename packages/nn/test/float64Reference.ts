import { Rng, type ParameterArena } from '@convoy/tensor';
import {
  AvgPool2d, BatchNorm2d, Conv2d, Dropout, Flatten, GELU, GlobalAvgPool2d, GlobalMaxPool2d, Linear, MaxPool2d, Module, ReLU, Residual, Scale, Sequential,
} from '../src';

/**
 * An independent float64 forward pass of a module tree, written as plain direct loops from the
 * PyTorch definitions (not through any KernelBackend). Gradient checks difference it with tiny
 * steps, free of float32 noise; tests also compare it with the float32 forward.
 */
export interface Value64 {
  shape: number[];
  data: Float64Array;
}

export type Params64 = Map<string, Float64Array>;

export function params64(arena: ParameterArena): Params64 {
  const map: Params64 = new Map();
  for (const e of arena.entries) map.set(e.name, Float64Array.from(arena.tensor(e.name).data));
  return map;
}

function param(p: Params64, module: Module, local: string): Float64Array {
  const name = module.name ? `${module.name}.${local}` : local;
  const v = p.get(name);
  if (!v) throw new Error(`float64 reference: no parameter ${name}`);
  return v;
}

export function forward64(module: Module, x: Value64, p: Params64): Value64 {
  if (module instanceof Sequential) {
    let y = x;
    for (const { module: child } of module.children) y = forward64(child, y, p);
    return y;
  }
  if (module instanceof Conv2d) return conv64(module, x, p);
  if (module instanceof ReLU) return { shape: x.shape, data: x.data.map((v) => (v > 0 ? v : 0)) };
  if (module instanceof MaxPool2d || module instanceof AvgPool2d) return pool64(module, x);
  if (module instanceof GlobalAvgPool2d) {
    const [n, c, h, w] = x.shape;
    const out = new Float64Array(n * c);
    for (let i = 0; i < n * c; i++) {
      let s = 0;
      for (let k = 0; k < h * w; k++) s += x.data[i * h * w + k];
      out[i] = s / (h * w);
    }
    return { shape: [n, c, 1, 1], data: out };
  }
  if (module instanceof Residual) {
    const y = forward64(module.body, x, p);
    return { shape: x.shape, data: x.data.map((v, i) => v + y.data[i]) };
  }
  if (module instanceof Scale) return { shape: x.shape, data: x.data.map((v) => v * module.factor) };
  if (module instanceof GELU) return { shape: x.shape, data: x.data.map(gelu64) };
  if (module instanceof BatchNorm2d) return batchNorm64(module, x, p);
  if (module instanceof Dropout) return dropout64(module, x);
  if (module instanceof GlobalMaxPool2d) {
    const [n, c, h, w] = x.shape;
    const out = new Float64Array(n * c);
    for (let i = 0; i < n * c; i++) {
      let m = -Infinity;
      for (let k = 0; k < h * w; k++) m = Math.max(m, x.data[i * h * w + k]);
      out[i] = m;
    }
    return { shape: [n, c, 1, 1], data: out };
  }
  if (module instanceof Flatten) return { shape: [x.shape[0], x.data.length / x.shape[0]], data: x.data };
  if (module instanceof Linear) {
    const [n, inF] = x.shape;
    const outF = module.outFeatures;
    const w = param(p, module, 'weight');
    const b = module.hasBias ? param(p, module, 'bias') : null;
    const out = new Float64Array(n * outF);
    for (let i = 0; i < n; i++) {
      for (let o = 0; o < outF; o++) {
        let s = b ? b[o] : 0;
        for (let k = 0; k < inF; k++) s += x.data[i * inF + k] * w[o * inF + k];
        out[i * outF + o] = s;
      }
    }
    return { shape: [n, outF], data: out };
  }
  throw new Error(`float64 reference: no rule for ${module.kind}`);
}

/** One output row (or column) of a sliding window: its first input index and the kernel taps [from, to) inside the input (the rest is zero padding). */
interface Span {
  start: number;
  from: number;
  to: number;
}

function spans(outSide: number, k: number, stride: number, pad: number, inSide: number): Span[] {
  return Array.from({ length: outSide }, (_, o) => {
    const start = o * stride - pad;
    return { start, from: Math.max(0, -start), to: Math.min(k, inSide - start) };
  });
}

/** A sliding window's sizes (conv or pool) and its spans, from the layer's options and the input's shape. */
function window64(m: { kernelSize: [number, number]; stride: [number, number]; padding: [number, number] }, x: Value64) {
  const [n, c, h, w] = x.shape;
  const [kh, kw] = m.kernelSize;
  const [sh, sw] = m.stride;
  const [ph, pw] = m.padding;
  const oh = Math.floor((h + 2 * ph - kh) / sh) + 1;
  const ow = Math.floor((w + 2 * pw - kw) / sw) + 1;
  return { n, c, h, w, kh, kw, oh, ow, rows: spans(oh, kh, sh, ph, h), cols: spans(ow, kw, sw, pw, w) };
}

function conv64(m: Conv2d, x: Value64, p: Params64): Value64 {
  const { n, c, h, w, kh, kw, oh, ow, rows, cols } = window64(m, x);
  const oc = m.outChannels;
  const weight = param(p, m, 'weight');
  const bias = m.hasBias ? param(p, m, 'bias') : null;
  const out = new Float64Array(n * oc * oh * ow);
  for (let b = 0; b < n; b++) {
    for (let o = 0; o < oc; o++) {
      rows.forEach((r, y) => cols.forEach((q, xx) => {
        let s = bias ? bias[o] : 0;
        for (let ci = 0; ci < c; ci++) {
          for (let ky = r.from; ky < r.to; ky++) {
            for (let kx = q.from; kx < q.to; kx++) {
              s += x.data[((b * c + ci) * h + r.start + ky) * w + q.start + kx] * weight[((o * c + ci) * kh + ky) * kw + kx];
            }
          }
        }
        out[((b * oc + o) * oh + y) * ow + xx] = s;
      }));
    }
  }
  return { shape: [n, oc, oh, ow], data: out };
}

function pool64(m: MaxPool2d | AvgPool2d, x: Value64): Value64 {
  const { n, c, h, w, kh, kw, oh, ow, rows, cols } = window64(m, x);
  const isMax = m instanceof MaxPool2d;
  const out = new Float64Array(n * c * oh * ow);
  for (let plane = 0; plane < n * c; plane++) {
    rows.forEach((r, y) => cols.forEach((q, xx) => {
      let acc = isMax ? -Infinity : 0;
      for (let ky = r.from; ky < r.to; ky++) {
        for (let kx = q.from; kx < q.to; kx++) {
          const v = x.data[(plane * h + r.start + ky) * w + q.start + kx];
          acc = isMax ? Math.max(acc, v) : acc + v;
        }
      }
      // count_include_pad=True: the divisor is the whole window
      out[(plane * oh + y) * ow + xx] = isMax ? acc : acc / (kh * kw);
    }));
  }
  return { shape: [n, c, oh, ow], data: out };
}

/** erf by its Maclaurin series (|x| < 3) or continued fraction of erfc, both to double precision. */
export function erf64(x: number): number {
  const z = Math.abs(x);
  if (z < 3) {
    let term = z;
    let sum = z;
    for (let k = 1; k < 200; k++) {
      term *= (-z * z) / k;
      const add = term / (2 * k + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * sum;
  }
  return Math.sign(x) * (1 - erfcTail(z));
}

/** erfc(z) for z >= 3: exp(-z^2)/sqrt(pi) / (z + (1/2)/(z + 1/(z + (3/2)/(z + ...)))), evaluated bottom-up. */
function erfcTail(z: number): number {
  let f = z;
  for (let k = 60; k >= 1; k--) f = z + k / 2 / f;
  return Math.exp(-z * z) / Math.sqrt(Math.PI) / f;
}

/** erfc to double precision, without cancellation in the right tail. */
export function erfc64(x: number): number {
  return x >= 3 ? erfcTail(x) : 1 - erf64(x);
}

/** GELU(x) = x·Φ(x) = x·erfc(−x/√2)/2. */
export function gelu64(x: number): number {
  return (x * erfc64(-x / Math.SQRT2)) / 2;
}

/** Training mode: each group of groupSize images normalised by its own mean and biased variance. */
function batchNorm64(m: BatchNorm2d, x: Value64, p: Params64): Value64 {
  const [n, c, h, w] = x.shape;
  const hw = h * w;
  const weight = m.affine ? param(p, m, 'weight') : null;
  const bias = m.affine ? param(p, m, 'bias') : null;
  const out = new Float64Array(x.data.length);
  if (!m.training) throw new Error('float64 reference: BatchNorm2d in eval mode needs the running statistics');
  for (let first = 0; first < n; first += m.groupSize) {
    const last = Math.min(n, first + m.groupSize);
    const count = (last - first) * hw;
    for (let ch = 0; ch < c; ch++) {
      let s = 0;
      for (let i = first; i < last; i++) for (let k = 0; k < hw; k++) s += x.data[(i * c + ch) * hw + k];
      const mean = s / count;
      let v = 0;
      for (let i = first; i < last; i++) for (let k = 0; k < hw; k++) v += (x.data[(i * c + ch) * hw + k] - mean) ** 2;
      const inv = 1 / Math.sqrt(v / count + m.eps);
      for (let i = first; i < last; i++) {
        for (let k = 0; k < hw; k++) {
          const at = (i * c + ch) * hw + k;
          out[at] = (x.data[at] - mean) * inv * (weight ? weight[ch] : 1) + (bias ? bias[ch] : 0);
        }
      }
    }
  }
  return { shape: x.shape, data: out };
}

/** The masks drawn as the layer documents them, from the context in DROPOUT_CONTEXT. */
export const DROPOUT_CONTEXT = { seed: 77, step: 5, batchOffset: 0 };
function dropout64(m: Dropout, x: Value64): Value64 {
  if (!m.training || m.p === 0) return x;
  const n = x.shape[0];
  const per = x.data.length / n;
  const out = new Float64Array(x.data.length);
  for (let i = 0; i < n; i++) {
    const rng = Rng.forKey(DROPOUT_CONTEXT.seed, DROPOUT_CONTEXT.step, DROPOUT_CONTEXT.batchOffset + i, m.key);
    for (let j = 0; j < per; j++) out[i * per + j] = rng.uniform() < m.p ? 0 : x.data[i * per + j] / (1 - m.p);
  }
  return { shape: x.shape, data: out };
}
